// `shardlab analyze layer-sweep`: the cheese vector at every layer, scaled to each layer's
// activation RMS, against deleting the cheese from the input (the ceiling), no edit, and a random
// control of the same norm (analysis/layer_sweep.h has the definitions).
#include <cstdio>
#include <filesystem>
#include <string>

#include "analysis/layer_sweep.h"
#include "analysis/study.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

std::string interval_text(const Interval& i, int decimals = 3) {
  char text[64];
  std::snprintf(text, sizeof text, "[%.*f, %.*f]", decimals, i.lo, decimals, i.hi);
  return text;
}

std::string edit_text(const SweepEdit& e) {
  char text[160];
  std::snprintf(text, sizeof text, "%-14s %7.3f %-16s %6.2f %-16s %7.3f %-16s %5.3f",
                (e.reading == "scaled" ? csv_number(e.coeff) + " x RMS" : "published " + csv_number(e.coeff)).c_str(),
                e.mean_effect, interval_text(e.effect_ci95).c_str(), e.fraction_of_ceiling,
                interval_text(e.fraction_of_ceiling_ci95, 2).c_str(), e.random_mean,
                interval_text(e.random_band95).c_str(), e.p_random);
  return text;
}

void print_table(const LayerSweep& s) {
  std::printf("%lld mazes with a decision square (%lld left out); mean P(cheese | d.s.) without an edit %.3f\n",
              static_cast<long long>(s.mazes), static_cast<long long>(s.left_out), finite_mean(s.p_cheese));
  std::printf("ceiling (cheese removed from the input): effect %.3f %s; no edit: %.3f %s\n", s.ceiling.mean_effect,
              interval_text(s.ceiling.effect_ci95).c_str(), s.no_edit.mean_effect,
              interval_text(s.no_edit.effect_ci95).c_str());
  if (!ceiling_excludes_zero(s))
    std::printf(
        "the ceiling's interval includes 0 (this network hardly reads the cheese): fractions of it mean "
        "little\n");
  std::printf("%-34s %-9s %-5s %-14s %7s %-16s %6s %-16s %7s %-16s %5s\n", "layer", "shape", "input", "edit", "effect",
              "95%", "ceil.", "95%", "random", "2.5-97.5%", "p");
  for (const auto& r : s.rows)
    for (size_t k = 0; k < r.edits.size(); ++k)
      std::printf("%-34s %-9s %-5s %s\n", k ? "" : r.layer.c_str(), k ? "" : r.shape.c_str(),
                  k ? "" : (r.input_edit ? "edit" : "-"), edit_text(r.edits[k]).c_str());
  const auto best = best_layer(s, "scaled", s.options.coeffs.front());
  if (best.first)
    std::printf("best layer that is not an input edit (%s x RMS): %s, %.2f %s of the ceiling\n",
                csv_number(best.second->coeff).c_str(), best.first->layer.c_str(), best.second->fraction_of_ceiling,
                interval_text(best.second->fraction_of_ceiling_ci95, 2).c_str());
}

}  // namespace

int layer_sweep_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze layer-sweep RUN --seeds A:B [--layers main|all|L1,L2,...] [--coeffs C1,C2,...] "
      "[--random-draws N] [--seed S] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layers", po::value<std::string>()->default_value("main"),
      "main: block conv, maxpool and residual-add outputs and the fc layers; all: every tap but the value and policy heads; "
      "or a comma-separated list")(
      "coeffs", po::value<std::string>()->default_value("-1,-0.5,-2"),
      "coefficients in units of each layer's activation RMS: shift = C * RMS(layer) * v / RMS(v), v the cheese "
      "vector (negative: subtracted); the first is the headline's. The raw vector at -1 (published) is always "
      "added")("random-draws", po::value<int64_t>()->default_value(kMinRandomDraws),
               "random directions of the same norm per layer (the control's distribution; at least 20)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random directions and the bootstrap intervals")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "layer-sweep", args, f, true);
  if (!s) return 0;
  LayerSweepOptions o;
  const std::string which = s->str("layers");
  if (which == "main" || which == "all") {
    o.layers = sweep_layers(s->p(), which == "all");
  } else {
    for (const auto& item : split(which, ','))
      if (!item.empty()) o.layers.push_back(item);
  }
  if (o.layers.empty()) throw InputError("--layers " + which + ": no layer named");
  o.coeffs = coefficients_of(*s, "coeffs");
  o.random_draws = flag_at_least(s->vm, "random-draws", kMinRandomDraws);
  o.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  s->claim({"layer_sweep.csv", "layer_sweep.json", "layer_sweep.svg"});
  MazeCounts counts;
  const LayerSweep sweep = sweep_steering_layers(s->p(), levels_of(*s, &counts), o);
  counts.used = sweep.mazes;
  counts.other_left_out.push_back({"without_decision_square", sweep.left_out});
  write_file((fs::path(s->out_dir) / "layer_sweep.csv").string(), layer_sweep_csv(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.svg").string(), layer_sweep_svg(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.json").string(),
             layer_sweep_json(s->p(), s->str("seeds"), sweep, counts));
  print_table(sweep);
  return 0;
}

}  // namespace shardlab::analysis
