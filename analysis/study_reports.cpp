#include "analysis/study_reports.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/pictures.h"
#include "analysis/report_json.h"

namespace shardlab::analysis {

std::string steering_csv(const std::vector<SteeringRow>& rows) {
  std::ostringstream out;
  out << "seed,maze_dim,decision_x,decision_y,cheese_x,cheese_y,vector_norm,p_cheese,p_cheese_steered,"
         "p_cheese_random,p_top_right,p_top_right_steered,p_top_right_random\n";
  for (const auto& r : rows)
    out << r.seed << ',' << r.maze_dim << ',' << r.decision_square.x << ',' << r.decision_square.y << ',' << r.cheese.x
        << ',' << r.cheese.y << ',' << r.vector_norm << ',' << r.p_cheese << ',' << r.p_cheese_steered << ','
        << r.p_cheese_random << ',' << r.p_top_right << ',' << r.p_top_right_steered << ',' << r.p_top_right_random
        << '\n';
  return out.str();
}

std::string steering_summary_json(const MazePolicy& policy, const std::string& seeds, const SteeringStudy& study,
                                  const SteeringSummary& m, int64_t mazes_left_out, const MazeCounts& counts) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = study.layer;
  j["vector"] = study.vector == SteeringVector::kCheese ? "cheese" : "top_right";
  j["coeff"] = number(study.coeff);
  if (study.compose_coeff) j["compose_coeff"] = number(*study.compose_coeff);
  if (study.transfer_from) j["transfer_from"] = *study.transfer_from;
  j["seeds"] = seeds;
  j["mazes"] = m.mazes;
  j["mazes_left_out"] = mazes_left_out;
  j["maze_counts"] = maze_counts_json(counts);
  j["median_p_cheese"] = number(m.median_p_cheese);
  j["median_p_cheese_steered"] = number(m.median_p_cheese_steered);
  j["median_p_cheese_random"] = number(m.median_p_cheese_random);
  j["median_p_top_right"] = number(m.median_p_top_right);
  j["median_p_top_right_steered"] = number(m.median_p_top_right_steered);
  j["median_p_top_right_random"] = number(m.median_p_top_right_random);
  j["p_cheese_rose"] = m.cheese_rose;
  j["p_cheese_fell"] = m.cheese_fell;
  j["max_p_cheese_rise"] = number(m.max_cheese_rise);
  j["p_top_right_rose"] = m.top_right_rose;
  j["p_top_right_fell"] = m.top_right_fell;
  return dump(j);
}

std::string channels_csv(const std::vector<ChannelScore>& scores) {
  std::ostringstream csv;
  csv << "rank,channel,peak_hit_rate,probe_r2,mean_at_cheese,mean_elsewhere\n";
  for (size_t i = 0; i < scores.size(); ++i)
    csv << i + 1 << ',' << scores[i].channel << ',' << scores[i].peak_hit_rate << ',' << scores[i].probe_r2 << ','
        << scores[i].mean_at_cheese << ',' << scores[i].mean_elsewhere << '\n';
  return csv.str();
}

std::string channels_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::vector<ChannelScore>& scores, int64_t top, const MazeCounts& counts) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = layer;
  j["seeds"] = seeds;
  j["maze_counts"] = maze_counts_json(counts);
  Json best = Json::array();
  for (int64_t i = 0; i < std::min<int64_t>(top, static_cast<int64_t>(scores.size())); ++i)
    best.push_back({{"channel", scores[i].channel},
                    {"peak_hit_rate", number(scores[i].peak_hit_rate)},
                    {"probe_r2", number(scores[i].probe_r2)},
                    {"mean_at_cheese", number(scores[i].mean_at_cheese)},
                    {"mean_elsewhere", number(scores[i].mean_elsewhere)}});
  j["top_channels"] = best;
  return dump(j);
}

std::string channels_table(const std::vector<ChannelScore>& scores, int64_t top) {
  char line[256];
  std::snprintf(line, sizeof line, "%-5s %-8s %-14s %-10s %-15s %s\n", "rank", "channel", "peak_hit_rate", "probe_r2",
                "mean_at_cheese", "mean_elsewhere");
  std::string out = line;
  for (int64_t i = 0; i < top; ++i) {
    std::snprintf(line, sizeof line, "%-5lld %-8lld %-14.3f %-10.3f %-15.3f %.3f\n", static_cast<long long>(i + 1),
                  static_cast<long long>(scores[i].channel), scores[i].peak_hit_rate, scores[i].probe_r2,
                  scores[i].mean_at_cheese, scores[i].mean_elsewhere);
    out += line;
  }
  return out;
}

void draw_channels(const MazePolicy& policy, const std::string& layer, const std::vector<int64_t>& channels,
                   const std::vector<MazeLayout>& mazes, const std::string& svg_path) {
  std::vector<MazeInput> inputs;
  for (const auto& l : mazes) inputs.push_back({l, l.start});
  const at::Tensor acts = policy.activations(inputs, layer);
  const int cell = 10, w = policy.world_size();
  Figure f;
  f.title = "Channels of " + layer + " that track the cheese";
  f.notes = {"activations with the mouse at the start; red positive, blue negative",
             "each channel scaled to its largest |value| over these mazes (beside its name)"};
  f.columns = static_cast<int>(mazes.size());
  for (const auto& m : mazes) f.column_labels.push_back("seed " + std::to_string(m.level_seed));
  for (size_t r = 0; r < channels.size(); ++r) {
    const at::Tensor a = acts.select(1, channels[r]);
    const double scale = std::max(1e-6, a.abs().max().item<double>());
    char label[64];
    std::snprintf(label, sizeof label, "channel %lld (\u00b1%.3g)", static_cast<long long>(channels[r]), scale);
    f.row_labels.push_back(label);
    for (size_t m = 0; m < mazes.size(); ++m) {
      Canvas canvas(cell * w, cell * w);
      draw_maze(canvas, mazes[m], 0, 0, cell);
      for (int y = 0; y < w; ++y)
        for (int x = 0; x < w; ++x) {
          const auto [h, col] = policy.activation_position(layer, {x, y});
          const double v = a[static_cast<int64_t>(m)][h][col].item<double>() / scale;
          canvas.blend_rect(x * cell, (w - 1 - y) * cell, cell, cell, diverging_color(v), 0.6f);
        }
      f.panels.push_back(canvas.panel(""));
    }
  }
  f.scales.push_back(diverging_scale("activation", -1, 1, 1, 0.6f, {"-max |value|", "0", "+max |value|"}));
  f.legend = maze_legend(true, false);
  write_figure(svg_path, f);
}

std::string resample_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, int64_t random_sets, Protocol protocol,
                                  const std::vector<InterventionResult>& results, const MazeCounts& counts) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = layer;
  j["channels"] = channels;
  j["seeds"] = seeds;
  j["protocol"] = protocol_name(protocol);
  j["sources"] = protocol == Protocol::kReference
                     ? "per target maze and channel, a random other level, mouse on a random free cell, cheese moved "
                       "onto the target's cheese cell (same) or left where it is (other); cells: every free cell but "
                       "the cheese's"
                     : "maze m takes maze m+1's activations, mouse at the start, cheese moved onto m's cheese cell "
                       "(same) or left (other); cells: every free cell";
  j["random_sets"] = random_sets;
  j["maze_counts"] = maze_counts_json(counts);
  Json tv = Json::object(), percent = Json::object();
  for (const auto& r : results) {
    tv[r.intervention] = {{"channels", number(r.tv_channels)}, {"random_channels", number(r.tv_random)}};
    percent[r.intervention] = {{"channels", number(r.percent_channels)}, {"random_channels", number(r.percent_random)}};
  }
  j["mean_total_variation"] = tv;
  j["mean_total_variation_is"] = "ours: total-variation distance of the move distribution, mean over every cell";
  j["reference_percent_changed"] = percent;
  j["reference_percent_changed_is"] =
      "procgen-tools' vf_diff_magnitude / 2 in percent: 100 * norm of all left/down/up/right probability "
      "differences / cells / 2, mean over mazes (the published 0.88% / 1.26% / 0.60% / 0.54%)";
  return dump(j);
}

std::string retarget_csv(const std::vector<RetargetRow>& rows) {
  std::ostringstream csv;
  csv << "seed,target_x,target_y,path_length,distance_to_top_right,npp_before,npp_after\n";
  for (const auto& r : rows)
    csv << r.seed << ',' << r.target.x << ',' << r.target.y << ',' << r.path_length << ',' << r.distance_to_top_right
        << ',' << r.npp_before << ',' << r.npp_after << '\n';
  return csv.str();
}

std::string retarget_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, double value, const std::vector<RetargetRow>& rows,
                                  const MazeCounts& counts) {
  double before = 0, after = 0;
  int64_t improved = 0, success = 0;
  for (const auto& r : rows) {
    before += r.npp_before;
    after += r.npp_after;
    improved += r.npp_after > r.npp_before;
    success += r.npp_after > 0.5;
  }
  const double n = static_cast<double>(std::max<size_t>(1, rows.size()));
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = layer;
  j["channels"] = channels;
  j["value"] = number(value);
  j["seeds"] = seeds;
  j["protocol"] = "ours";
  j["maze_counts"] = maze_counts_json(counts);
  j["targets"] = rows.size();
  j["mean_npp_before"] = number(before / n);
  j["mean_npp_after"] = number(after / n);
  j["share_improved"] = number(improved / n);
  j["share_npp_after_above_half"] = number(success / n);
  return dump(j);
}

std::string reference_retarget_csv(const std::vector<ReferenceRetargetRow>& rows) {
  std::ostringstream csv;
  csv << "seed,target_x,target_y,path_length,distance_to_top_right,npp_normal,npp_channel,npp_effective,npp_all,"
         "npp_cheese\n";
  for (const auto& r : rows)
    csv << r.seed << ',' << r.target.x << ',' << r.target.y << ',' << r.path_length << ',' << r.distance_to_top_right
        << ',' << r.npp_normal << ',' << r.npp_channel << ',' << r.npp_effective << ',' << r.npp_all << ','
        << r.npp_cheese << '\n';
  return csv.str();
}

std::string reference_retarget_summary_json(const MazePolicy& policy, const std::string& seeds,
                                            const std::string& layer, const RetargetConditions& k,
                                            const std::vector<ReferenceRetargetRow>& rows, const MazeCounts& counts) {
  const auto join = [](const std::vector<int64_t>& v) {
    std::string out;
    for (const int64_t c : v) out += (out.empty() ? "" : ",") + std::to_string(c);
    return out;
  };
  const double n = static_cast<double>(std::max<size_t>(1, rows.size()));
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = layer;
  j["seeds"] = seeds;
  j["protocol"] = "reference";
  j["maze_counts"] = maze_counts_json(counts);
  j["targets"] = rows.size();
  j["metric"] = "normalized path probability from the start to the target (geometric mean of P(correct move))";
  Json conditions = Json::object();
  const auto condition = [&](const std::string& name, const std::string& what, double ReferenceRetargetRow::*field) {
    double sum = 0;
    int64_t above_normal = 0;
    for (const auto& r : rows) {
      sum += r.*field;
      above_normal += r.*field > r.npp_normal;
    }
    Json c;
    c["edit"] = what;
    c["mean_npp"] = number(sum / n);
    if (field != &ReferenceRetargetRow::npp_normal) c["share_above_normal"] = number(above_normal / n);
    conditions[name] = c;
  };
  char text[160];
  condition("normal", "cheese removed, no edit", &ReferenceRetargetRow::npp_normal);
  std::snprintf(text, sizeof text, "channel %lld := %g at the target", static_cast<long long>(k.channel),
                k.channel_value);
  condition("channel", text, &ReferenceRetargetRow::npp_channel);
  std::snprintf(text, sizeof text, "channels %s := %g at the target", join(k.effective).c_str(), k.effective_value);
  condition("effective", text, &ReferenceRetargetRow::npp_effective);
  std::snprintf(text, sizeof text, "channels %s := %g at the target", join(k.cheese_channels).c_str(), k.all_value);
  condition("all", text, &ReferenceRetargetRow::npp_all);
  condition("cheese", "no edit, the cheese moved onto the target", &ReferenceRetargetRow::npp_cheese);
  j["conditions"] = conditions;
  return dump(j);
}

void draw_retarget(const MazeLayout& level, const std::vector<RetargetRow>& rows, const std::string& layer,
                   const std::string& channels, double value, const std::string& svg_path) {
  const MazeLayout maze = without_cheese(level);
  const int cell = 24, w = maze.world_size;
  char value_text[32];
  std::snprintf(value_text, sizeof value_text, "%g", value);
  Figure f;
  f.title = "Retargeting: " + layer + " channels " + channels + " set to " + value_text + " at the target";
  f.notes = {"level seed " + std::to_string(maze.level_seed) + ", cheese removed; each target cell coloured by the " +
             "normalized probability of the path from the start to it"};
  f.columns = 2;
  for (int panel = 0; panel < 2; ++panel) {
    Canvas canvas(cell * w, cell * w);
    draw_maze(canvas, maze, 0, 0, cell, maze.start);
    for (const auto& r : rows)
      if (r.seed == maze.level_seed) {
        const double v = panel == 0 ? r.npp_before : r.npp_after;
        canvas.blend_rect(r.target.x * cell, (w - 1 - r.target.y) * cell, cell, cell, diverging_color(v), 0.8f);
      }
    f.panels.push_back(
        canvas.panel(panel == 0 ? "before the edit" : std::string("after: channels set to ") + value_text));
  }
  f.scales.push_back(diverging_scale("path probability", 0, 1, 1, 0.8f));
  f.legend = maze_legend(false, true);
  write_figure(svg_path, f);
}

std::string behaviour_summary_json(const MazePolicy& policy, const std::string& seeds, int64_t mazes,
                                   const LogisticFit& fit, const MazeCounts& counts) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["protocol"] = "ours";
  j["seeds"] = seeds;
  j["maze_counts"] = maze_counts_json(counts);
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

std::string behaviour_reference_json(const MazePolicy& policy, const BehaviourProtocol& p, const SplitRegression& r,
                                     const MazeCounts& counts) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["protocol"] = "reference";
  j["episodes"] = p.episodes;
  j["level_seeds"] =
      "drawn without replacement from [0, " + std::to_string(p.seed_range) + ") with seed " + std::to_string(p.seed);
  j["max_steps"] = p.max_steps;
  j["got_cheese_means"] =
      "as procgen-tools' Episode.got_cheese: the last recorded state has the mouse next to the cheese, i.e. it "
      "reached the cheese within max_steps or stopped next to it when cut";
  j["kept"] = "mazes with a decision square whose cheese is not in the maze's top-right 5x5";
  j["maze_counts"] = maze_counts_json(counts);
  j["cheese_rate"] = number(r.positive_rate);
  j["regression"] =
      "L1 logistic (liblinear objective: |w|_1 + |b| + C * log-loss, intercept penalized), features "
      "z-scored over all mazes";
  j["c"] = number(r.c);
  j["splits"] = r.splits;
  j["train"] = r.train;
  j["test"] = r.test;
  j["mean_test_accuracy"] = number(r.mean_test_accuracy);
  j["sd_test_accuracy"] = number(r.sd_test_accuracy);
  j["mean_majority_baseline"] = number(r.mean_majority_baseline);
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

}  // namespace shardlab::analysis
