// `shardlab analyze channels`: a layer's channels ranked by how well they track the cheese.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "analysis/channels.h"
#include "analysis/pictures.h"
#include "analysis/report_json.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

// ---- what the study writes

namespace {

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
  Json j = summary_header("channels", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = layer;
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

}  // namespace

int channels_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze channels RUN --seeds A:B [--layer L] [--top N] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (at least 10 mazes)")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "top", po::value<int64_t>()->default_value(8), "channels to print and draw")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "channels", args, f, true);
  if (!s) return 0;
  const std::string layer = layer_of(*s);
  s->claim({"channels.csv", "channels_summary.json", "channels_top.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto scores = rank_cheese_channels(s->p(), layer, levels);
  counts.used = std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return l.has_cheese(); });
  if (counts.used < static_cast<int64_t>(levels.size()))
    counts.other_left_out.push_back({"without_cheese", static_cast<int64_t>(levels.size()) - counts.used});
  write_file((fs::path(s->out_dir) / "channels.csv").string(), channels_csv(scores));
  const int64_t top = std::min<int64_t>(flag_at_least(s->vm, "top", 1), scores.size());
  write_file((fs::path(s->out_dir) / "channels_summary.json").string(),
             channels_summary_json(s->p(), s->str("seeds"), layer, scores, top, counts));
  std::cout << channels_table(scores, top);
  std::vector<int64_t> best;
  for (int64_t i = 0; i < top; ++i) best.push_back(scores[i].channel);
  std::vector<MazeLayout> shown;
  for (const auto& l : levels)
    if (l.has_cheese() && shown.size() < 4) shown.push_back(l);
  const std::string svg = (fs::path(s->out_dir) / "channels_top.svg").string();
  draw_channels(s->p(), layer, best, shown, svg);
  std::cerr << "wrote " << svg << '\n';
  return 0;
}

}  // namespace shardlab::analysis
