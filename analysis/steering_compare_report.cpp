// The files of `analyze steering-compare`: steering_compare.csv (per test maze and direction),
// steering_compare.json (the design and every headline number with its interval) and
// steering_compare.svg (the test split's mean changes).
#include <algorithm>
#include <sstream>

#include "analysis/report_json.h"
#include "analysis/steering_compare.h"
#include "core/statistics.h"
#include "media/bar_chart.h"

namespace shardlab::analysis {
namespace {

Json interval(const Interval& i) { return Json::array({number(i.lo), number(i.hi)}); }

Json level_seeds_of(const SteeringDesign& d, const std::vector<int64_t>& mazes) {
  Json out = Json::array();
  for (int64_t m : mazes) out.push_back(d.level_seeds[static_cast<size_t>(m)]);
  return out;
}

// The level seeds in no split (when the fractions sum to less than 1).
Json unused_level_seeds(const SteeringDesign& d) {
  std::vector<bool> used(d.level_seeds.size(), false);
  for (const auto* split : {&d.splits.fit.mazes, &d.splits.validation.mazes, &d.splits.test.mazes})
    for (int64_t m : *split) used[static_cast<size_t>(m)] = true;
  Json out = Json::array();
  for (size_t m = 0; m < used.size(); ++m)
    if (!used[m]) out.push_back(d.level_seeds[m]);
  return out;
}

Json method_json(const MethodScore& m, bool with_null) {
  Json j;
  j["alpha"] = number(m.alpha);
  j["sd_along_direction"] = number(m.sd);
  Json validation = Json::array();
  for (double v : m.validation_mean_effect) validation.push_back(number(v));
  j["validation_mean_effect"] = validation;
  j["mean_effect"] = number(m.mean_effect);
  j["mean_effect_ci95"] = interval(m.mean_effect_ci95);
  j["mean_effect_top_right"] = number(m.mean_effect_top_right);
  if (with_null) j["p_empirical_vs_null"] = number(m.p_empirical_vs_null);
  return j;
}

Json splits_json(const SteeringDesign& d) {
  const SplitFractions& f = d.options.fractions;
  return {{"seed", d.options.seed},
          {"fractions", {{"fit", number(f.fit)}, {"validation", number(f.validation)}, {"test", number(f.test)}}},
          {"how", "the mazes with a decision square shuffled with the seed and dealt at the cumulative fractions"},
          {"fit_level_seeds", level_seeds_of(d, d.splits.fit.mazes)},
          {"validation_level_seeds", level_seeds_of(d, d.splits.validation.mazes)},
          {"test_level_seeds", level_seeds_of(d, d.splits.test.mazes)},
          {"unused_level_seeds", unused_level_seeds(d)}};
}

Json null_json(const SteeringDesign& d) {
  Json draws = Json::array(), alphas = Json::array();
  for (const auto& r : d.random) {
    draws.push_back(number(r.mean_effect));
    alphas.push_back(number(r.alpha));
  }
  return {{"what", "Gaussian directions, each scaled and given its alpha on the validation split like the methods"},
          {"draws", d.random.size()},
          {"mean_effect", number(d.null_mean_effect)},
          {"mean_effect_range95", interval(d.null_range95)},
          {"mean_effect_per_draw", draws},
          {"alpha_per_draw", alphas}};
}

std::string method_label(const MethodScore& m) {
  const std::string name = m.method == "one_pair"          ? "one pair (ActAdd)"
                           : m.method == "mean_difference" ? "mean difference"
                           : m.method == "probe"           ? "probe"
                                                           : m.method;
  return name + ", alpha " + csv_number(m.alpha);
}

}  // namespace

std::string steering_compare_csv(const SteeringComparison& c) {
  const SteeringDesign& d = c.design;
  std::ostringstream csv;
  csv << "level_seed,method,alpha,sd_along_direction,p_cheese_unsteered,p_cheese_steered,effect_p_cheese,"
         "p_top_right_unsteered,p_top_right_steered,effect_p_top_right\n";
  std::vector<const MethodScore*> all;
  for (const auto& m : d.methods) all.push_back(&m);
  for (const auto& r : d.random) all.push_back(&r);
  all.push_back(&d.per_maze_oracle);
  for (size_t i = 0; i < d.splits.test.mazes.size(); ++i) {
    const uint32_t seed = d.level_seeds[static_cast<size_t>(d.splits.test.mazes[i])];
    const double cheese = d.test_unsteered.cheese[i], top_right = d.test_unsteered.top_right[i];
    for (const MethodScore* m : all)
      csv << seed << ',' << m->method << ',' << csv_number(m->alpha) << ',' << csv_number(m->sd) << ','
          << csv_number(cheese) << ',' << csv_number(cheese + m->effect.cheese[i]) << ','
          << csv_number(m->effect.cheese[i]) << ',' << csv_number(top_right) << ','
          << csv_number(top_right + m->effect.top_right[i]) << ',' << csv_number(m->effect.top_right[i]) << '\n';
  }
  return csv.str();
}

std::string steering_compare_json(const MazePolicy& policy, const std::string& seeds, const SteeringComparison& c,
                                  const MazeCounts& counts) {
  const SteeringDesign& d = c.design;
  Json j = summary_header("steering-compare", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = c.layer;
  j["mazes_with_decision_square"] = c.mazes;
  j["splits"] = splits_json(d);
  j["effect"] = "mean change of P(cheese | decision square) on the test split, steered minus unsteered";
  j["shift"] =
      "-alpha times the standard deviation of the fit split's decision-square activations along the "
      "unit direction (positive alpha: away from cheese present)";
  Json alphas = Json::array();
  for (double a : d.options.alphas) alphas.push_back(number(a));
  j["alphas"] = alphas;
  j["alpha_selection"] =
      "per direction, the alpha with the largest mean drop of P(cheese | d.s.) on the validation split";
  j["one_pair_level_seed"] = d.one_pair_seed;
  j["probe_fit_accuracy"] = number(d.probe_fit_accuracy);
  j["probe_test_accuracy"] = number(d.probe_test_accuracy);
  j["cosine_mean_difference_probe"] = number(d.cosine_mean_difference_probe);
  j["cosine_one_pair_mean_difference"] = number(d.cosine_one_pair_mean_difference);
  j["test_unsteered"] = {{"mean_p_cheese", number(finite_mean(d.test_unsteered.cheese))},
                         {"median_p_cheese", number(median(d.test_unsteered.cheese))},
                         {"mean_p_top_right", number(finite_mean(d.test_unsteered.top_right))}};
  Json methods;
  for (const auto& m : d.methods) methods[m.method] = method_json(m, true);
  j["methods"] = methods;
  j["random_null"] = null_json(d);
  Json oracle = method_json(d.per_maze_oracle, false);
  oracle["what"] =
      "each test maze's own cheese vector subtracted (coefficient -1, as published): fitted on the maze "
      "it is scored on, a ceiling for reference, in no comparison";
  j["per_maze_oracle"] = oracle;
  Json table = Json::array();
  for (const auto& p : d.comparisons)
    table.push_back({{"a", p.a},
                     {"b", p.b},
                     {"mean_difference", number(p.mean_difference)},
                     {"mean_difference_ci95", interval(p.ci95)},
                     {"p", number(p.p)},
                     {"p_holm", number(p.p_holm)},
                     {"significant", p.significant()}});
  j["comparisons_test"] =
      "Wilcoxon signed-rank on the per-maze effects (a minus b; random_null: each maze's mean "
      "over the draws), Holm-adjusted over every comparison; paired bootstrap intervals";
  j["comparisons"] = table;
  return dump(j);
}

std::string steering_compare_svg(const SteeringComparison& c) {
  const SteeringDesign& d = c.design;
  BarChart chart;
  chart.title = "Steering directions at " + c.layer + ", scored on " + std::to_string(d.splits.test.mazes.size()) +
                " held-out test mazes (fitted on " + std::to_string(d.splits.fit.mazes.size()) + ", alpha chosen on " +
                std::to_string(d.splits.validation.mazes.size()) + ")";
  chart.x_label = "direction (shift = alpha x sd of the activations along it)";
  chart.y_label = "change of P(move | decision square), mean and 95% interval over test mazes";
  chart.series = {"P(cheese move)", "P(top-right move)"};
  const auto add = [&](const std::string& group, const std::vector<double>& cheese,
                       const std::vector<double>& top_right) {
    chart.groups.push_back(group);
    chart.samples[{group, chart.series[0]}] = cheese;
    chart.samples[{group, chart.series[1]}] = top_right;
  };
  for (const auto& m : d.methods) add(method_label(m), m.effect.cheese, m.effect.top_right);
  std::vector<double> null_top_right(d.null_effect.size(), 0.0);
  for (const auto& r : d.random)
    for (size_t i = 0; i < null_top_right.size(); ++i)
      null_top_right[i] += r.effect.top_right[i] / static_cast<double>(d.random.size());
  add("random null (" + std::to_string(d.random.size()) + " draws, per-maze mean)", d.null_effect, null_top_right);
  add("per-maze oracle (not held out)", d.per_maze_oracle.effect.cheese, d.per_maze_oracle.effect.top_right);
  return bar_chart_svg(chart);
}

}  // namespace shardlab::analysis
