// `shardlab analyze steering-compare`: per-maze cheese vector, mean difference and probe direction compared.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/steering_compare.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

std::vector<double> coeffs_of(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : split(text, ',')) {
    const auto v = parse_double(item);
    if (!v) throw InputError("--coeffs " + text + ": '" + item + "' is not a number");
    out.push_back(Study::bounded_number(*v, "--coeffs", Study::kLargestEdit));
  }
  if (out.empty()) throw InputError("--coeffs: expected C1,C2,...");
  return out;
}

}  // namespace

int steering_compare_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze steering-compare RUN --seeds A:B [--layer L] [--coeffs C1,C2,...] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (at least 4 with a decision square)")(
      "layer", po::value<std::string>(), (std::string("layer to steer (default ") + kDefaultLayer + ")").c_str())(
      "coeffs", po::value<std::string>()->default_value("-2,-1,-0.5,0.5,1,2"),
      "coefficients, in units of the common norm (the per-maze cheese vectors' mean norm)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random directions")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "steering-compare", args, f, true);
  if (!s) return 0;
  SteeringCompareOptions o;
  o.layer = layer_of(*s);
  o.coeffs = coeffs_of(s->str("coeffs"));
  o.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  s->claim({"steering_compare.csv", "steering_compare.json", "steering_compare.svg"});
  MazeCounts counts;
  const SteeringComparison c = compare_steering(s->p(), levels_of(*s, &counts), o);
  counts.used = c.mazes;
  counts.other_left_out.push_back({"without_decision_square", c.left_out});
  write_file((fs::path(s->out_dir) / "steering_compare.csv").string(), steering_compare_csv(c));
  write_file((fs::path(s->out_dir) / "steering_compare.svg").string(), steering_compare_svg(c));
  const std::string json = steering_compare_json(s->p(), s->str("seeds"), c, counts);
  write_file((fs::path(s->out_dir) / "steering_compare.json").string(), json);
  std::printf("%d mazes with a decision square (%lld left out), layer %s, common norm %.4g\n",
              static_cast<int>(c.mazes), static_cast<long long>(c.left_out), c.layer.c_str(), c.norm);
  std::printf("probe accuracy: %.3f train (even mazes), %.3f test (odd mazes); cosine(mean difference, probe) %.3f\n",
              c.probe_train_accuracy, c.probe_test_accuracy, c.cosine_mean_difference_probe);
  std::printf("%-16s %7s %18s %21s %12s\n", "direction", "coeff", "median P(cheese)", "median P(top-right)",
              "rose/fell");
  std::printf("%-16s %7s %18.3f %21.3f\n", "none", "", c.median_p_cheese, c.median_p_top_right);
  for (const auto& r : c.rows)
    std::printf("%-16s %7.3g %18.3f %21.3f %6lld/%lld\n", r.method.c_str(), r.coeff, r.median_p_cheese,
                r.median_p_top_right, static_cast<long long>(r.cheese_rose), static_cast<long long>(r.cheese_fell));
  return 0;
}

}  // namespace shardlab::analysis
