#include "analysis/milestones.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include "agents/evaluate.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/ridge.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "media/line_chart.h"

namespace shardlab::analysis {
namespace {

// A measure of one checkpoint that is a control, not a milestone: no threshold.
constexpr const char* kRandomEffect = "random_vector_effect";

std::string fixed(double v, int digits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << v;
  return out.str();
}

}  // namespace

const std::vector<std::string>& milestone_measures() {
  static const std::vector<std::string> names = {"train_cheese_rate",  "uniform_cheese_rate",  "uniform_corner_rate",
                                                 "best_channel_score", "cheese_vector_effect", kRandomEffect,
                                                 "probe_accuracy"};
  return names;
}

std::map<std::string, MilestoneThreshold> default_milestone_thresholds() {
  return {
      {"train_cheese_rate", {0.5, "gets the cheese in half the training-distribution episodes"}},
      {"uniform_cheese_rate", {0.5, "gets the cheese in half the uniform-cheese episodes"}},
      {"uniform_corner_rate", {0.1, "goes to the top-right corner first in 10% of uniform-cheese episodes"}},
      {"best_channel_score",
       {0.25, "one channel's map predicts the cheese's (x, y) with held-out R^2 0.25 (ridge probe)"}},
      {"cheese_vector_effect",
       {0.1, "subtracting the cheese vector lowers the median P(cheese | decision square) by 0.1"}},
      {"probe_accuracy", {0.5, "a linear probe places the cheese within one cell in half the held-out mazes"}},
  };
}

double cheese_position_probe_accuracy(const std::vector<std::vector<float>>& activations,
                                      const std::vector<std::pair<int, int>>& cheese_cells) {
  const int64_t n = static_cast<int64_t>(activations.size());
  const int64_t train = n * 4 / 5, test = n - train;
  if (train < 2 || test < 1) throw InputError("the cheese-position probe needs at least 3 mazes with cheese");
  const int64_t features = static_cast<int64_t>(activations[0].size());
  Eigen::MatrixXd x(n, features + 1);
  Eigen::MatrixXd y(n, 2);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < features; ++j) x(i, j) = activations[i][j];
    x(i, features) = 1.0;
    y(i, 0) = cheese_cells[i].first;
    y(i, 1) = cheese_cells[i].second;
  }
  const Eigen::MatrixXd beta = ridge_fit(x.topRows(train), y.topRows(train), 1.0);  // as the channels' probe
  const Eigen::MatrixXd predicted = x.bottomRows(test) * beta;
  int64_t correct = 0;
  for (int64_t i = 0; i < test; ++i) {
    const double dx = std::abs(std::round(predicted(i, 0)) - y(train + i, 0));
    const double dy = std::abs(std::round(predicted(i, 1)) - y(train + i, 1));
    if (dx <= 1 && dy <= 1) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(test);
}

void find_crossings(MilestoneStudy& study) {
  study.first_crossing.clear();
  study.order.clear();
  std::vector<std::pair<int64_t, std::string>> crossed;
  for (const auto& name : milestone_measures()) {
    const auto t = study.thresholds.find(name);
    if (t == study.thresholds.end()) continue;
    int64_t first = -1;
    for (const auto& row : study.rows) {
      const auto v = row.values.find(name);
      if (v != row.values.end() && std::isfinite(v->second) && v->second >= t->second.value) {
        first = row.global_step;
        break;
      }
    }
    study.first_crossing[name] = first;
    if (first >= 0) crossed.emplace_back(first, name);
  }
  std::stable_sort(crossed.begin(), crossed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [step, name] : crossed) study.order.push_back(name);
}

MilestoneStudy measure_milestones(const std::string& run_dir, const std::vector<Milestone>& milestones,
                                  const SpecSchema& schema, const MilestoneOptions& options,
                                  const std::map<std::string, MilestoneThreshold>& thresholds) {
  MilestoneStudy study;
  study.run_dir = run_dir;
  study.layer = options.layer;
  study.episodes = options.episodes;
  study.thresholds = thresholds;
  std::vector<std::string> uniform = options.overrides;
  uniform.push_back("env.placement=uniform");
  Progress progress("milestones");
  int64_t done = 0;
  for (const Milestone& m : milestones) {
    MilestoneRow row;
    row.global_step = m.global_step;
    row.checkpoint = m.path;
    // Behaviour: the same episodes at every milestone (the evaluation seeds come from the spec).
    const EvalResult train = evaluate_checkpoint(m.path, schema, options.overrides, options.episodes, false);
    const EvalResult test = evaluate_checkpoint(m.path, schema, uniform, options.episodes, false);
    row.values["train_cheese_rate"] = train.rates.at("cheese_rate").rate;
    row.values["uniform_cheese_rate"] = test.rates.at("cheese_rate").rate;
    row.values["uniform_corner_rate"] = test.rates.at("corner_rate").rate;

    // Inside: the same uniform-cheese mazes at every milestone.
    const MazePolicy policy = MazePolicy::load(m.path, schema, uniform);
    policy.layer_shape(options.layer);
    int64_t dropped = 0;
    const std::vector<MazeLayout> levels = study_levels(policy, options.maze_begin, options.maze_end, &dropped);
    std::vector<MazeLayout> with_cheese;
    for (const auto& l : levels)
      if (l.has_cheese()) with_cheese.push_back(l);
    if (with_cheese.size() < 10)
      throw InputError("--seeds: the milestones study needs at least 10 mazes with cheese, got " +
                       std::to_string(with_cheese.size()));
    study.seeds = options.maze_end - options.maze_begin;
    study.seed_range = std::to_string(options.maze_begin) + ":" + std::to_string(options.maze_end);
    study.mazes = static_cast<int64_t>(with_cheese.size());
    study.dropped = dropped;
    study.without_cheese = static_cast<int64_t>(levels.size() - with_cheese.size());
    study.min_maze_size = policy.maze_config().min_maze_size;
    study.max_maze_size = policy.maze_config().max_maze_size;

    // The channels study ranks by peak hit rate first, but "within one position" is likely by
    // chance on a small map (an untrained 8/16/16 net scores 0.7 on 4 x 4); R^2 is 0 by chance.
    const auto scores = rank_cheese_channels(policy, options.layer, with_cheese);
    const auto best = std::max_element(scores.begin(), scores.end(), [](const ChannelScore& a, const ChannelScore& b) {
      return a.probe_r2 < b.probe_r2;
    });
    row.values["best_channel_score"] = best->probe_r2;
    row.best_channel = best->channel;

    SteeringStudy steering;
    steering.layer = options.layer;
    const auto steered = run_steering(policy, with_cheese, steering);
    study.decision_square_mazes = static_cast<int64_t>(steered.size());
    if (steered.empty()) {
      row.values["cheese_vector_effect"] = std::nan("");
      row.values[kRandomEffect] = std::nan("");
    } else {
      const SteeringSummary s = summarize(steered);
      row.values["cheese_vector_effect"] = s.median_p_cheese - s.median_p_cheese_steered;
      row.values[kRandomEffect] = s.median_p_cheese - s.median_p_cheese_random;
    }

    const at::Tensor acts = policy.activations(at_start(with_cheese), options.layer).flatten(1).contiguous();
    std::vector<std::vector<float>> rows(with_cheese.size());
    std::vector<std::pair<int, int>> cells;
    for (size_t i = 0; i < with_cheese.size(); ++i) {
      const float* p = acts[static_cast<int64_t>(i)].data_ptr<float>();
      rows[i].assign(p, p + acts.size(1));
      cells.emplace_back(with_cheese[i].cheese.x, with_cheese[i].cheese.y);
    }
    row.values["probe_accuracy"] = cheese_position_probe_accuracy(rows, cells);
    study.rows.push_back(std::move(row));
    progress.update(++done, static_cast<int64_t>(milestones.size()), "checkpoints");
  }
  progress.finish(done, static_cast<int64_t>(milestones.size()), "checkpoints");
  find_crossings(study);
  return study;
}

std::string milestones_csv(const MilestoneStudy& study) {
  std::ostringstream out;
  out << "global_step";
  for (const auto& name : milestone_measures()) out << ',' << name;
  out << ",best_channel,checkpoint\n";
  for (const auto& row : study.rows) {
    out << row.global_step;
    for (const auto& name : milestone_measures()) {
      const double v = row.values.count(name) ? row.values.at(name) : std::nan("");
      out << ',' << (std::isfinite(v) ? fixed(v, 6) : "");
    }
    out << ',' << row.best_channel << ',' << row.checkpoint << '\n';
  }
  return out.str();
}

std::string milestones_json(const MilestoneStudy& study) {
  MazeCounts counts;
  counts.seeds = study.seeds;
  counts.outside_sizes = study.dropped;
  counts.min_maze_size = study.min_maze_size;
  counts.max_maze_size = study.max_maze_size;
  counts.other_left_out = {{"without_cheese", study.without_cheese}};
  counts.used = study.mazes;
  // Over many checkpoints (each row names its own): the header's checkpoint is left out.
  Json j = summary_header("milestones", "", study.seed_range, "ours", counts);
  j["run"] = study.run_dir;
  j["layer"] = study.layer;
  j["checkpoints"] = study.rows.size();
  j["episodes_per_evaluation"] = study.episodes;
  j["decision_square_mazes"] = study.decision_square_mazes;
  Json thresholds = Json::object();
  for (const auto& name : milestone_measures()) {
    const auto t = study.thresholds.find(name);
    if (t == study.thresholds.end()) continue;
    const int64_t first = study.first_crossing.count(name) ? study.first_crossing.at(name) : -1;
    thresholds[name] = {{"threshold", number(t->second.value)},
                        {"meaning", t->second.meaning},
                        {"first_step", first >= 0 ? Json(first) : Json(nullptr)}};
  }
  j["milestones"] = thresholds;
  j["order"] = study.order;
  return dump(j);
}

std::string milestones_svg(const MilestoneStudy& study) {
  LineChart chart;
  chart.title = "Developmental milestones: " + study.run_dir;
  LinePanel behaviour{
      "Behaviour (" + std::to_string(study.episodes) + " sampled episodes each)", "env steps", "rate", {}};
  LinePanel inside{
      "Inside, at " + study.layer + " (" + std::to_string(study.mazes) + " mazes)", "env steps", "score", {}};
  for (const auto& name : milestone_measures()) {
    LineSeries s;
    s.name = name;
    for (const auto& row : study.rows) {
      s.x.push_back(static_cast<double>(row.global_step));
      s.y.push_back(row.values.count(name) ? row.values.at(name) : std::nan(""));
    }
    const auto t = study.thresholds.find(name);
    const auto first = study.first_crossing.find(name);
    if (t != study.thresholds.end())
      s.name += " (>= " + fixed(t->second.value, 2) + ": " +
                (first != study.first_crossing.end() && first->second >= 0 ? "step " + std::to_string(first->second)
                                                                           : "never") +
                ")";
    (name.find("rate") != std::string::npos ? behaviour : inside).series.push_back(std::move(s));
  }
  chart.panels = {behaviour, inside};
  return line_chart_svg(chart);
}

}  // namespace shardlab::analysis
