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
                                  const SteeringSummary& m, int64_t mazes_left_out) {
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
                                  const std::string& channels, int64_t random_sets,
                                  const std::vector<InterventionResult>& results) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["layer"] = layer;
  j["channels"] = channels;
  j["seeds"] = seeds;
  j["random_sets"] = random_sets;
  Json tv = Json::object();
  for (const auto& r : results)
    tv[r.intervention] = {{"channels", number(r.tv_channels)}, {"random_channels", number(r.tv_random)}};
  j["mean_total_variation"] = tv;
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
                                  const std::string& channels, double value, const std::vector<RetargetRow>& rows) {
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
  j["targets"] = rows.size();
  j["mean_npp_before"] = number(before / n);
  j["mean_npp_after"] = number(after / n);
  j["share_improved"] = number(improved / n);
  j["share_npp_after_above_half"] = number(success / n);
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
                                   const LogisticFit& fit) {
  Json j;
  j["checkpoint"] = policy.checkpoint();
  j["seeds"] = seeds;
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

}  // namespace shardlab::analysis
