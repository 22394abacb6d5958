#include "analysis/milestones.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "agents/evaluate.h"
#include "analysis/maze_policy.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"

namespace shardlab::analysis {
namespace {

namespace fs = std::filesystem;

// The quantities' places in MilestoneRun::series.
enum Index : size_t { kTrainCheese, kUniformCheese, kUniformCorner, kChannel, kVector, kRandomVector, kProbe, kCount };

// A split's mazes with cheese, their activations at `layer` (mouse at the start) flattened to
// (mazes, C * H * W) and the cheese's cells (x, y).
struct SplitData {
  std::vector<MazeLayout> mazes;
  Eigen::MatrixXd acts, cells;
  SplitCounts counts;
};

SplitData split_data(const MazePolicy& policy, const std::string& layer, std::pair<int64_t, int64_t> seeds,
                     const std::string& flag) {
  SplitData d;
  const std::vector<MazeLayout> levels = study_levels(policy, seeds.first, seeds.second, &d.counts.outside_sizes);
  for (const auto& l : levels)
    if (l.has_cheese()) d.mazes.push_back(l);
  d.counts.seeds = seeds.second - seeds.first;
  d.counts.without_cheese = static_cast<int64_t>(levels.size() - d.mazes.size());
  d.counts.used = static_cast<int64_t>(d.mazes.size());
  if (d.mazes.size() < 10)
    throw InputError(flag + ": the milestones study needs at least 10 mazes with cheese in each split, got " +
                     std::to_string(d.mazes.size()));
  const at::Tensor acts = policy.activations(at_start(d.mazes), layer).to(torch::kFloat64).flatten(1).contiguous();
  d.acts = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      acts.data_ptr<double>(), acts.size(0), acts.size(1));
  d.cells.resize(static_cast<int64_t>(d.mazes.size()), 2);
  for (size_t i = 0; i < d.mazes.size(); ++i) {
    d.cells(static_cast<int64_t>(i), 0) = d.mazes[i].cheese.x;
    d.cells(static_cast<int64_t>(i), 1) = d.mazes[i].cheese.y;
  }
  return d;
}

// Each channel's map: the columns of the flattened layer that belong to it.
std::vector<Eigen::MatrixXd> channel_maps(const Eigen::MatrixXd& acts, int64_t channels) {
  const int64_t per_channel = acts.cols() / channels;
  std::vector<Eigen::MatrixXd> maps;
  for (int64_t c = 0; c < channels; ++c) maps.emplace_back(acts.middleCols(c * per_channel, per_channel));
  return maps;
}

MilestoneSample paired_sample(const std::vector<SteeringRow>& rows, double SteeringRow::*after) {
  MilestoneSample s;
  s.statistic = MilestoneStatistic::kMedianDifference;
  s.columns.resize(2);
  for (const auto& r : rows) {
    s.columns[0].push_back(r.p_cheese);
    s.columns[1].push_back(r.*after);
  }
  return s;
}

int64_t run_seed_of(const std::string& run_dir) {
  std::ifstream in(fs::path(run_dir) / "run.json");
  if (!in) return -1;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("seed") || !j["seed"].is_number_integer()) return -1;
  return j["seed"].get<int64_t>();
}

}  // namespace

const std::vector<MilestoneQuantity>& milestone_quantities() {
  static const std::vector<MilestoneQuantity> q = {
      {"train_cheese_rate", "cheese rate, training distribution (sampled actions)"},
      {"uniform_cheese_rate", "cheese rate, uniform cheese (sampled actions)"},
      {"uniform_corner_rate", "top-right corner first, uniform cheese (sampled actions)"},
      {"best_channel_score",
       "R^2 of one channel's ridge probe for the cheese's (x, y): the channel chosen on the fit mazes, scored on the "
       "test mazes"},
      {"cheese_vector_effect",
       "median P(cheese | decision square) without minus with the cheese vector subtracted (test mazes)"},
      {"random_vector_effect", "the same with a random vector of the cheese vector's norm (a control)", false},
      {"probe_accuracy",
       "whole-layer ridge probe trained on the fit mazes: test mazes whose cheese it places within one cell"},
  };
  return q;
}

std::vector<std::string> milestone_names() {
  std::vector<std::string> names;
  for (const auto& q : milestone_quantities())
    if (q.milestone) names.push_back(q.name);
  return names;
}

MilestoneRun measure_milestones(const std::string& run_dir, const std::vector<Milestone>& milestones,
                                const SpecSchema& schema, const MilestoneOptions& options) {
  MilestoneRun run;
  run.run_dir = run_dir;
  run.run_seed = run_seed_of(run_dir);
  run.series.resize(kCount);
  for (size_t q : {kChannel, kVector, kRandomVector, kProbe}) run.series[q].same_units = true;
  std::vector<std::string> uniform = options.overrides;
  uniform.push_back("env.placement=uniform");
  Progress progress("milestones");
  int64_t done = 0;
  for (const Milestone& m : milestones) {
    run.steps.push_back(m.global_step);
    run.checkpoints.push_back(m.path);
    // Behaviour: the same evaluation seeds at every milestone.
    const EvalResult train = evaluate_checkpoint(m.path, schema, options.overrides, options.episodes, false);
    const EvalResult test = evaluate_checkpoint(m.path, schema, uniform, options.episodes, false);
    run.series[kTrainCheese].samples.push_back(rate_sample(train.rates.at("cheese_rate").rate, train.episodes));
    run.series[kUniformCheese].samples.push_back(rate_sample(test.rates.at("cheese_rate").rate, test.episodes));
    run.series[kUniformCorner].samples.push_back(rate_sample(test.rates.at("corner_rate").rate, test.episodes));

    // Inside: the same uniform-cheese mazes at every milestone; choices on the fit split only.
    const MazePolicy policy = MazePolicy::load(m.path, schema, uniform);
    const auto shape = policy.layer_shape(options.layer);
    if (shape.size() != 3) throw InputError("--layer " + options.layer + ": not spatial (channels x h x w)");
    const SplitData fit = split_data(policy, options.layer, options.fit_seeds, "--fit-seeds");
    const SplitData test_split = split_data(policy, options.layer, options.test_seeds, "--seeds");
    run.fit = fit.counts;
    run.test = test_split.counts;
    run.min_maze_size = policy.maze_config().min_maze_size;
    run.max_maze_size = policy.maze_config().max_maze_size;

    const ChannelChoice choice = choose_cheese_channel(channel_maps(fit.acts, shape[0]), fit.cells,
                                                       channel_maps(test_split.acts, shape[0]), test_split.cells);
    run.series[kChannel].samples.push_back(choice.test);
    run.best_channel.push_back(choice.channel);
    run.best_channel_fit_r2.push_back(choice.fit_r2);

    SteeringStudy steering;
    steering.layer = options.layer;
    const auto steered = run_steering(policy, test_split.mazes, steering);
    run.decision_square_mazes = static_cast<int64_t>(steered.size());
    run.series[kVector].samples.push_back(paired_sample(steered, &SteeringRow::p_cheese_steered));
    run.series[kRandomVector].samples.push_back(paired_sample(steered, &SteeringRow::p_cheese_random));

    run.series[kProbe].samples.push_back(cheese_probe_hits(fit.acts, fit.cells, test_split.acts, test_split.cells));
    progress.update(++done, static_cast<int64_t>(milestones.size()), "checkpoints");
  }
  progress.finish(done, static_cast<int64_t>(milestones.size()), "checkpoints");
  return run;
}

void check_comparable_runs(const std::vector<std::string>& run_dirs,
                           const std::vector<std::vector<Milestone>>& milestones) {
  const auto steps_of = [](const std::vector<Milestone>& ms) {
    std::vector<int64_t> steps;
    for (const auto& m : ms) steps.push_back(m.global_step);
    return steps;
  };
  const auto text = [](const std::vector<int64_t>& steps) {
    return std::to_string(steps.size()) + " milestones, last at step " + std::to_string(steps.back());
  };
  std::set<std::string> folders;
  std::map<int64_t, std::string> seeds;
  for (size_t r = 0; r < run_dirs.size(); ++r) {
    if (!folders.insert(fs::weakly_canonical(run_dirs[r]).string()).second)
      throw InputError(run_dirs[r] + ": the same run twice (W compares runs of different seeds)");
    const int64_t seed = run_seed_of(run_dirs[r]);
    if (seed >= 0 && !seeds.emplace(seed, run_dirs[r]).second)
      throw InputError(run_dirs[r] + ": run.seed " + std::to_string(seed) + " again (as " + seeds[seed] +
                       "): W compares runs of different seeds");
    if (milestones[r].size() < 3)
      throw InputError(run_dirs[r] + ": " + std::to_string(milestones[r].size()) +
                       " milestones; a crossing after step 0 held for two milestones needs at least 3");
    if (steps_of(milestones[r]) != steps_of(milestones[0]))
      throw InputError(run_dirs[r] + ": other milestone steps than " + run_dirs[0] + " (" +
                       text(steps_of(milestones[r])) + " against " + text(steps_of(milestones[0])) +
                       "): train every run to the same steps with the same run.milestone_every");
  }
}

MilestoneStudy analyze_milestones(std::vector<MilestoneRun> runs, const MilestoneOptions& options) {
  MilestoneStudy study;
  study.options = options;
  const auto& quantities = milestone_quantities();
  const size_t rules = threshold_rules().size();
  std::vector<std::vector<std::vector<int64_t>>> by_rule(rules);  // [rule][run][milestone quantity]
  for (size_t r = 0; r < runs.size(); ++r) {
    RunAnalysis a;
    a.crossings.resize(rules);
    for (size_t q = 0; q < quantities.size(); ++q) {
      // The stream: one per (run, quantity), so adding a run leaves the others' numbers as they were.
      a.quantities.push_back(analyze_quantity(runs[r].series[q], options.crossing, mix_seed(r, q)));
      if (!quantities[q].milestone) continue;
      for (size_t k = 0; k < rules; ++k) a.crossings[k].push_back(a.quantities.back().crossings[k].index);
    }
    const auto m = static_cast<int64_t>(runs[r].steps.size());
    for (size_t k = 0; k < rules; ++k) {
      a.ranks.push_back(crossing_ranks(a.crossings[k], m));
      by_rule[k].push_back(a.crossings[k]);
    }
    study.analyses.push_back(std::move(a));
  }
  const int64_t m = runs.empty() ? 0 : static_cast<int64_t>(runs[0].steps.size());
  for (size_t k = 0; k < rules; ++k)
    study.agreement.push_back(
        order_agreement(by_rule[k], m, options.permutations, mix_seed(options.crossing.seed, 1000 + k)));
  study.runs = std::move(runs);
  return study;
}

}  // namespace shardlab::analysis
