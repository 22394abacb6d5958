// `shardlab analyze steering-compare`: one-pair, mean-difference and probe directions fitted on one
// split of the mazes, tuned on a second and compared on a third (analysis/steering_splits.h).
#include <cstdio>
#include <filesystem>

#include "analysis/steering_compare.h"
#include "analysis/study.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

// The fewest random directions that make a null distribution (issue 30).
constexpr int64_t kMinRandomDraws = 20;

std::string bounds_text(const Interval& i) { return "[" + csv_number(i.lo) + ", " + csv_number(i.hi) + "]"; }

void print_summary(const SteeringComparison& c) {
  const SteeringDesign& d = c.design;
  std::printf("%lld mazes with a decision square (%lld left out), layer %s\n", static_cast<long long>(c.mazes),
              static_cast<long long>(c.left_out), c.layer.c_str());
  std::printf("splits (seed %llu): %zu fit, %zu validation, %zu test mazes (level seeds in steering_compare.json)\n",
              static_cast<unsigned long long>(d.options.seed), d.splits.fit.mazes.size(),
              d.splits.validation.mazes.size(), d.splits.test.mazes.size());
  std::printf("one pair: level seed %u's cheese vector (the fit maze with the median norm)\n", d.one_pair_seed);
  std::printf("probe accuracy %.3f on the fit split, %.3f on the test split; cosine(mean difference, probe) %.3f\n",
              d.probe_fit_accuracy, d.probe_test_accuracy, d.cosine_mean_difference_probe);
  std::printf("test split, unsteered: mean P(cheese | d.s.) %.3f\n", finite_mean(d.test_unsteered.cheese));
  std::printf("%-34s %7s  %s\n", "direction", "alpha", "mean change of P(cheese | d.s.) on the test split [95%]");
  for (const auto& m : d.methods)
    std::printf("%-34s %7s  %.4g %s, empirical p vs the null %.3f\n", m.method.c_str(), csv_number(m.alpha).c_str(),
                m.mean_effect, bounds_text(m.mean_effect_ci95).c_str(), m.p_empirical_vs_null);
  std::printf("%-34s %7s  %.4g, 95%% of draws in %s\n",
              ("random null (" + std::to_string(d.random.size()) + " draws)").c_str(), "own", d.null_mean_effect,
              bounds_text(d.null_range95).c_str());
  std::printf("%-34s %7s  %.4g %s\n", "per-maze oracle (not held out)", "-", d.per_maze_oracle.mean_effect,
              bounds_text(d.per_maze_oracle.mean_effect_ci95).c_str());
  std::printf("paired comparisons on the test split (Wilcoxon signed-rank, Holm over %zu):\n", d.comparisons.size());
  for (const auto& p : d.comparisons)
    std::printf(
        "  %s vs %s: mean difference %.4g %s, p %.3g, Holm p %.3g: %s\n", p.a.c_str(), p.b.c_str(), p.mean_difference,
        bounds_text(p.ci95).c_str(), p.p, p.p_holm,
        p.significant() ? "significant after Holm correction (0.05)" : "not significant after Holm correction (0.05)");
}

}  // namespace

int steering_compare_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze steering-compare RUN --seeds A:B [--layer L] [--alphas A1,A2,...] [--random-draws N] "
      "[--fit-fraction F] [--validation-fraction F] [--test-fraction F] [--seed N] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(),
                        "maze seeds A:B (the mazes with a decision square are split)")(
      "layer", po::value<std::string>(), (std::string("layer to steer (default ") + kDefaultLayer + ")").c_str())(
      "alphas", po::value<std::string>()->default_value("0.5,1,2,4,8"),
      "the grid each direction's alpha is chosen from on the validation split (largest mean drop of P(cheese)); "
      "the shift is -alpha sd along the direction, so a positive alpha moves away from cheese present")(
      "random-draws", po::value<int64_t>()->default_value(20),
      "random directions in the null distribution (at least 20)")(
      "fit-fraction", po::value<double>()->default_value(0.4), "share of the mazes the directions are fitted on")(
      "validation-fraction", po::value<double>()->default_value(0.2), "share the alphas are chosen on")(
      "test-fraction", po::value<double>()->default_value(0.4),
      "share every direction is scored on (the three sum to at most 1)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the splits, the random directions and the bootstrap")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "steering-compare", args, f, true);
  if (!s) return 0;
  SteeringCompareOptions o;
  o.layer = layer_of(*s);
  o.design.alphas = coefficients_of(*s, "alphas");
  o.design.random_draws = flag_at_least(s->vm, "random-draws", kMinRandomDraws);
  o.design.fractions = {s->vm["fit-fraction"].as<double>(), s->vm["validation-fraction"].as<double>(),
                        s->vm["test-fraction"].as<double>()};
  o.design.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  check_split_fractions(o.design.fractions);
  s->claim({"steering_compare.csv", "steering_compare.json", "steering_compare.svg"});
  MazeCounts counts;
  const SteeringComparison c = compare_steering(s->p(), levels_of(*s, &counts), o);
  const auto& splits = c.design.splits;
  counts.used =
      static_cast<int64_t>(splits.fit.mazes.size() + splits.validation.mazes.size() + splits.test.mazes.size());
  counts.other_left_out.push_back({"without_decision_square", c.left_out});
  counts.other_left_out.push_back({"in_no_split", c.mazes - counts.used});
  write_file((fs::path(s->out_dir) / "steering_compare.csv").string(), steering_compare_csv(c));
  write_file((fs::path(s->out_dir) / "steering_compare.svg").string(), steering_compare_svg(c));
  write_file((fs::path(s->out_dir) / "steering_compare.json").string(),
             steering_compare_json(s->p(), s->str("seeds"), c, counts));
  print_summary(c);
  return 0;
}

}  // namespace shardlab::analysis
