// `shardlab analyze behaviour`: logistic regression of "gets the cheese" on decision-square features.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "analysis/behaviour.h"
#include "analysis/pictures.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

// ---- what the study writes

namespace {

struct BehaviourProtocol {
  int64_t episodes = 0, seed_range = 0, max_steps = 0;
  uint64_t seed = 0;
};

std::string behaviour_summary_json(const MazePolicy& policy, const std::string& seeds, int64_t mazes,
                                   const LogisticFit& fit, const MazeCounts& counts) {
  Json j = summary_header("behaviour", policy.checkpoint(), seeds, "ours", counts);
  j["mazes"] = mazes;
  j["cheese_rate"] = number(fit.positive_rate);
  j["train"] = fit.train;
  j["test"] = fit.test;
  j["train_accuracy"] = number(fit.train_accuracy);
  j["test_accuracy"] = number(fit.test_accuracy);
  j["majority_baseline"] = number(fit.majority_baseline);
  j["intercept"] = number(fit.intercept);
  Json coefficients = Json::object();
  for (size_t i = 0; i < fit.names.size(); ++i) coefficients[fit.names[i]] = number(fit.coefficients[i]);
  j["coefficients"] = coefficients;
  return dump(j);
}

// Wilson's 95% interval of a proportion: what the cheese rate is known to, from `n` mazes.
std::pair<double, double> wilson95(double rate, int64_t n) {
  const double z = 1.959963984540054, m = static_cast<double>(n);
  const double centre = (rate + z * z / (2 * m)) / (1 + z * z / m);
  const double half = z / (1 + z * z / m) * std::sqrt(rate * (1 - rate) / m + z * z / (4 * m * m));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::string behaviour_reference_json(const MazePolicy& policy, const BehaviourProtocol& p, const ReferenceMazes& m,
                                     const SplitRegression& r, const MazeCounts& counts) {
  Json j = summary_header(
      "behaviour", policy.checkpoint(),
      "drawn without replacement from [0, " + std::to_string(p.seed_range) + ") with seed " + std::to_string(p.seed),
      "reference", counts);
  j["episodes"] = p.episodes;
  j["max_steps"] = p.max_steps;
  j["maze_sizes"] =
      "every size of the world (as gather_data.py); the run's env.min_maze_size..env.max_maze_size do not filter";
  j["drawn_outside_training_sizes"] = m.drawn_outside_training_sizes;
  j["used_outside_training_sizes"] = m.kept_outside_training_sizes;
  j["rollouts"] =
      "the maze environment's own steps and observations (procgen_rgb: Procgen's sprite, facing the last "
      "horizontal move)";
  j["got_cheese_means"] =
      "as procgen-tools' Episode.got_cheese: the last recorded state has the mouse next to the cheese, i.e. it "
      "reached the cheese within max_steps or stopped next to it when cut";
  j["kept"] = "mazes with a decision square whose cheese is not in the maze's top-right 5x5";
  const auto [low, high] = wilson95(r.positive_rate, r.rows);
  j["cheese_rate"] = number(r.positive_rate);
  j["cheese_rate_ci95"] = {number(low), number(high)};
  j["regression"] =
      "L1 logistic (liblinear objective: |w|_1 + |b| + C * log-loss, intercept penalized), features "
      "z-scored over all mazes";
  j["c"] = number(r.c);
  j["tolerance"] = number(r.solver.tolerance);
  j["max_iterations"] = r.solver.max_iterations;
  j["mean_iterations"] = number(r.mean_iterations);
  j["splits_at_iteration_cap"] = r.splits_at_iteration_cap;
  j["splits"] = r.splits;
  j["train"] = r.train;
  j["test"] = r.test;
  j["mean_test_accuracy"] = number(r.mean_test_accuracy);
  j["sd_test_accuracy"] = number(r.sd_test_accuracy);
  // The splits share their mazes, so their spread is not an interval of the mean: labelled as the spread.
  j["test_accuracy_split_range95"] = {number(r.test_accuracy_low), number(r.test_accuracy_high)};
  j["majority_baseline"] = number(r.majority_baseline);
  // max(p, 1 - p) over the cheese rate's interval: 0.5 at the lowest when the interval holds 0.5.
  const auto majority = [](double rate) { return std::max(rate, 1 - rate); };
  const double majority_low = low <= 0.5 && high >= 0.5 ? 0.5 : std::min(majority(low), majority(high));
  j["majority_baseline_ci95"] = {number(majority_low), number(std::max(majority(low), majority(high)))};
  j["majority_baseline_means"] = "the notebook's: max(cheese_rate, 1 - cheese_rate) over all kept mazes";
  j["mean_majority_baseline"] = number(r.mean_majority_baseline);
  j["mean_majority_baseline_means"] =
      "each split's training majority scored on its test mazes, averaged over the splits (not the reference's)";
  j["mean_intercept"] = number(r.mean_intercept);
  Json coefficients = Json::object();
  for (size_t i = 0; i < r.names.size(); ++i)
    coefficients[r.names[i]] = {{"mean", number(r.mean_coefficients[i])},
                                {"sd", number(r.sd_coefficients[i])},
                                {"nonzero_splits", r.nonzero_splits[i]}};
  j["coefficients"] = coefficients;
  return dump(j);
}

std::string behaviour_reference_csv(const std::vector<MazeLayout>& mazes, const std::vector<bool>& got,
                                    const std::vector<std::vector<double>>& features) {
  std::ostringstream csv;
  csv << "seed,maze_dim,got_cheese";
  for (const auto& name : ReferenceFeatures::names()) csv << ',' << name;
  csv << '\n';
  for (size_t i = 0; i < mazes.size(); ++i) {
    csv << mazes[i].level_seed << ',' << mazes[i].maze_dim << ',' << (got[i] ? 1 : 0);
    for (const double v : features[i]) csv << ',' << v;
    csv << '\n';
  }
  return csv.str();
}

}  // namespace

namespace {

constexpr int64_t kReferenceSeedRange = 1000000;  // gather_data.py: level seeds from [0, 10^6)

// The reference protocol: random level seeds, episodes cut at --max-steps, "got the cheese" judged
// from the last recorded state, mazes with a decision square whose cheese is outside the top-right
// 5x5, eleven z-scored features, L1 logistic regression over --splits random splits.
int behaviour_reference(Study& s) {
  if (s.has("seeds"))
    throw InputError("--seeds is for --protocol ours; the reference protocol draws --episodes level seeds from [0, " +
                     std::to_string(kReferenceSeedRange) + ") with --seed");
  BehaviourProtocol p;
  p.episodes = s.vm["episodes"].as<int64_t>();
  p.seed_range = kReferenceSeedRange;
  p.max_steps = s.vm["max-steps"].as<int64_t>();
  p.seed = static_cast<uint64_t>(flag_at_least(s.vm, "seed", 0));
  if (p.max_steps < 1 || p.max_steps > 100000) throw InputError("--max-steps: expected 1..100000");
  const double c = s.bounded("c", 1e12);
  if (!(c > 0)) throw InputError("--c: expected a positive number");
  const int64_t splits = s.vm["splits"].as<int64_t>();
  if (splits < 1 || splits > 100000) throw InputError("--splits: expected 1..100000");
  s.claim({"behaviour_reference.json", "behaviour_reference.csv"});

  const ReferenceMazes drawn = draw_reference_mazes(s.p().maze_config(), p.episodes, p.seed_range, p.seed);
  const std::vector<MazeLayout>& mazes = drawn.kept;
  MazeCounts counts;
  counts.seeds = p.episodes;
  counts.min_maze_size = s.p().maze_config().min_maze_size;
  counts.max_maze_size = s.p().maze_config().max_maze_size;
  counts.other_left_out = {{"without_decision_square", drawn.without_decision_square},
                           {"cheese_in_top_right_5x5", drawn.cheese_in_top_right_5x5}};
  counts.used = static_cast<int64_t>(mazes.size());
  if (mazes.size() < 10)
    throw InputError("--episodes " + std::to_string(p.episodes) + ": only " + std::to_string(mazes.size()) +
                     " mazes kept (decision square, cheese outside the top-right 5x5); need at least 10");
  // Only the kept mazes are played: the episodes are independent, so the others would not change them.
  const auto got = gets_cheese(s.p(), mazes, p.seed, static_cast<int>(p.max_steps),
                               CheeseJudgement::kReferenceLastStateNextToCheese);
  std::vector<std::vector<double>> x;
  for (const auto& l : mazes) x.push_back(reference_features(l).values);
  const SplitRegression r = repeated_split_regression(x, got, ReferenceFeatures::names(), c, static_cast<int>(splits),
                                                      0.2, p.seed, kSklearnSolver);
  write_file((fs::path(s.out_dir) / "behaviour_reference.csv").string(), behaviour_reference_csv(mazes, got, x));
  const std::string json = behaviour_reference_json(s.p(), p, drawn, r, counts);
  write_file((fs::path(s.out_dir) / "behaviour_reference.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace

int behaviour_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze behaviour RUN [--protocol reference|ours] [--out DIR]\n"
      "  reference (procgen-tools' behavioural statistics): --episodes level seeds drawn without replacement\n"
      "    from [0, 10^6) with --seed, every maze size of the world (the run's size limits do not filter; the JSON\n"
      "    counts the mazes outside them), played in the maze environment itself (procgen_rgb: Procgen's sprite\n"
      "    facing its last horizontal move), cut at --max-steps (256), 'got the cheese' = the mouse next to the\n"
      "    cheese in the last recorded state (it reached the cheese, or stopped next to it when cut); kept: mazes\n"
      "    with a decision square whose cheese is outside the maze's top-right 5x5; the eleven distance features\n"
      "    of metrics.py (no taxicab ones) z-scored; L1 logistic regression as liblinear (C = --c, intercept\n"
      "    penalized, sklearn's tol 1e-4 and max_iter 100) over --splits random 80/20 splits, against the\n"
      "    majority class over all mazes. Writes behaviour_reference.json and behaviour_reference.csv\n"
      "  ours: the mazes of --seeds A:B with a decision square, episodes of env.max_episode_steps, six features,\n"
      "    L2 logistic regression on one --train-fraction split: behaviour.json");
  f.flags.add_options()("protocol", po::value<std::string>()->default_value("reference"), kProtocolHelp)(
      "episodes", po::value<int64_t>()->default_value(10000), "reference: episodes (level seeds) to draw")(
      "max-steps", po::value<int64_t>()->default_value(256), "reference: steps an episode is cut at")(
      "splits", po::value<int64_t>()->default_value(50), "reference: random 80/20 train/test splits")(
      "c", po::value<double>()->default_value(1.0),
      "reference: liblinear's C, the inverse L1 strength (sklearn's default 1)")(
      "seeds", po::value<std::string>(), "ours: maze seeds A:B (mazes without a decision square are left out)")(
      "train-fraction", po::value<double>()->default_value(0.8),
      "ours: share of the mazes the regression is fitted on")(
      "seed", po::value<int64_t>()->default_value(0),
      "seed of the policy's sampled moves (reference: also of the level seeds and the splits)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "behaviour", args, f, true);
  if (!s) return 0;
  if (protocol_of(*s) == Protocol::kReference) {
    refuse_flags_of_other_protocol(*s, Protocol::kReference, {"train-fraction"});
    return behaviour_reference(*s);
  }
  refuse_flags_of_other_protocol(*s, Protocol::kOurs, {"episodes", "max-steps", "splits", "c"});
  const double fraction = s->vm["train-fraction"].as<double>();
  if (!(fraction > 0 && fraction < 1)) throw InputError("--train-fraction: expected a number in (0, 1)");
  s->claim({"behaviour.json"});
  MazeCounts counts;
  std::vector<MazeLayout> mazes;
  const auto levels = levels_of(*s, &counts);
  for (const auto& l : levels)
    if (find_decision_square(l)) mazes.push_back(l);
  counts.used = static_cast<int64_t>(mazes.size());
  counts.other_left_out.push_back({"without_decision_square", static_cast<int64_t>(levels.size() - mazes.size())});
  if (mazes.size() < 10)
    throw InputError("--seeds: need at least 10 mazes with a decision square, got " + std::to_string(mazes.size()));
  const auto got = gets_cheese(s->p(), mazes, static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)));
  std::vector<std::vector<double>> x;
  for (const auto& l : mazes) x.push_back(decision_features(l).values);
  const int64_t train = std::max<int64_t>(2, static_cast<int64_t>(fraction * static_cast<double>(mazes.size())));
  const LogisticFit fit = fit_logistic(x, got, std::min<int64_t>(train, mazes.size() - 1), DecisionFeatures::names());
  const std::string json =
      behaviour_summary_json(s->p(), s->str("seeds"), static_cast<int64_t>(mazes.size()), fit, counts);
  write_file((fs::path(s->out_dir) / "behaviour.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::analysis
