// `shardlab analyze retarget`: remove the cheese, set channels at a target, measure the path probability.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "analysis/pictures.h"
#include "analysis/report_json.h"
#include "analysis/retarget.h"
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
  Json j = summary_header("retarget", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = layer;
  j["channels"] = channels;
  j["value"] = number(value);
  j["targets"] = rows.size();
  j["mean_npp_before"] = number(before / n);
  j["mean_npp_after"] = number(after / n);
  j["share_improved"] = number(improved / n);
  j["share_npp_after_above_half"] = number(success / n);
  return dump(j);
}

std::string reference_retarget_csv(const std::vector<ReferenceRetargetRow>& rows) {
  std::ostringstream csv;
  csv << "seed,target_x,target_y,path_length,topright_path_divergence,filter_row,filter_col,measured_x,measured_y,"
         "npp_normal,npp_channel,npp_effective,npp_all,npp_cheese\n";
  for (const auto& r : rows)
    csv << r.seed << ',' << r.target.x << ',' << r.target.y << ',' << r.path_length << ',' << r.topright_path_divergence
        << ',' << r.filter_row << ',' << r.filter_col << ',' << r.measured.x << ',' << r.measured.y << ','
        << csv_number(r.npp_normal) << ',' << csv_number(r.npp_channel) << ',' << csv_number(r.npp_effective) << ','
        << csv_number(r.npp_all) << ',' << csv_number(r.npp_cheese) << '\n';
  return csv.str();
}

// One condition's summary: the mean over mazes of each maze's mean over its targets (a maze counts
// once, however many targets it has) with the Student-t 95% interval over mazes; the share of
// targets above "normal"; and the mean by distance from the path to the top-right
// (topright_path_divergence, retarget_quantitative.ipynb's analysis). NaN values are left out.
Json retarget_condition(const std::string& edit, const std::vector<ReferenceRetargetRow>& rows,
                        double ReferenceRetargetRow::*field) {
  std::map<uint32_t, std::vector<double>> per_maze;
  int64_t above = 0, finite = 0;
  for (const auto& r : rows) {
    per_maze[r.seed].push_back(r.*field);
    if (!std::isfinite(r.*field)) continue;
    ++finite;
    above += r.*field > r.npp_normal;
  }
  std::vector<double> maze_means;
  for (const auto& [seed, values] : per_maze) maze_means.push_back(finite_mean(values));
  const double mean = finite_mean(maze_means), half = t_interval95(maze_means);
  Json c;
  c["edit"] = edit;
  c["mean_npp"] = number(mean);
  c["mean_npp_ci95"] = Json::array({number(mean - half), number(mean + half)});
  if (field != &ReferenceRetargetRow::npp_normal)
    c["share_above_normal"] = number(static_cast<double>(above) / static_cast<double>(std::max<int64_t>(1, finite)));
  Json bins = Json::array();
  const std::vector<std::pair<int, int>> ranges = {{0, 0}, {1, 2}, {3, 5}, {6, 10}, {11, 1 << 30}};
  for (const auto& [lo, hi] : ranges) {
    std::vector<double> values;
    for (const auto& r : rows)
      if (r.topright_path_divergence >= lo && r.topright_path_divergence <= hi) values.push_back(r.*field);
    const std::string name = lo == hi    ? std::to_string(lo)
                             : hi > 1000 ? std::to_string(lo) + "+"
                                         : std::to_string(lo) + "-" + std::to_string(hi);
    bins.push_back({{"topright_path_divergence", name},
                    {"targets", static_cast<int64_t>(values.size())},
                    {"mean_npp", number(finite_mean(values))}});
  }
  c["by_topright_path_divergence"] = bins;
  return c;
}

std::string reference_retarget_summary_json(const MazePolicy& policy, const std::string& seeds,
                                            const std::string& layer, const RetargetConditions& k,
                                            const std::vector<ReferenceRetargetRow>& rows, const MazeCounts& counts) {
  const auto join = [](const std::vector<int64_t>& v) {
    std::string out;
    for (const int64_t c : v) out += (out.empty() ? "" : ",") + std::to_string(c);
    return out;
  };
  Json j = summary_header("retarget", policy.checkpoint(), seeds, "reference", counts);
  j["layer"] = layer;
  j["targets"] = rows.size();
  j["metric"] = "normalized path probability from the start to the target (geometric mean of P(correct move))";
  j["cache"] =
      "as retarget_heatmap: every condition but normal is measured once per activation position, on the path to the "
      "first target there (bottom row first); later targets at that position share its value";
  j["edit"] =
      "as get_channel_pixel_patch: each edited channel's map in every input := the map with the mouse on the start, "
      "the target's position := the value";
  j["mean_npp_is"] = "mean over mazes of each maze's mean over its targets, Student-t 95% interval over mazes";
  Json conditions = Json::object();
  const auto condition = [&](const std::string& name, const std::string& what, double ReferenceRetargetRow::*field) {
    conditions[name] = retarget_condition(what, rows, field);
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
  condition("cheese",
            "no edit, the cheese moved onto the target (none at activation position (0, 0), as cheese_at_square)",
            &ReferenceRetargetRow::npp_cheese);
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

}  // namespace

// The reference protocol's conditions from the flags (channels as C1,C2,... or top:K:FILE).
RetargetConditions reference_conditions(const Study& s) {
  RetargetConditions k;
  const std::vector<int64_t> one = channels_of(s.str("channel"));
  if (one.size() != 1) throw InputError("--channel " + s.str("channel") + ": expected one channel");
  k.channel = one[0];
  k.channel_value = s.bounded("channel-value");
  k.effective = channels_of(s.str("effective-channels"));
  k.effective_value = s.bounded("effective-value");
  k.cheese_channels = channels_of(s.str("cheese-channels"));
  k.all_value = s.bounded("all-value");
  return k;
}

int retarget_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze retarget RUN --seeds A:B [--protocol reference|ours] [--layer L] [--out DIR]\n"
      "  reference (procgen-tools' four conditions, cheese removed in each): --channel C := --channel-value at the\n"
      "    target; --effective-channels := --effective-value; --cheese-channels := --all-value; and the baseline\n"
      "    with the cheese itself moved onto the target. Defaults are the published model's channels (55; 8,55,77,\n"
      "    82,88,89,113; 7,8,42,44,55,77,82,88,89,99,113): give your own network's. As procgen-tools: an edited\n"
      "    channel's map in every input is the map with the mouse on the start plus the target's pixel; every\n"
      "    condition but no edit is measured once per activation position (later targets there share the value);\n"
      "    the analysis is by distance from the path to the top-right (topright_path_divergence). Writes\n"
      "    retarget_reference.csv, retarget_reference_summary.json\n"
      "  ours: --channels C1,C2 := --value at the target (only that pixel, every target measured), before / after:\n"
      "    retarget.csv, retarget_summary.json, retarget.svg\n"
      "  metric: normalized path probability from the start to the target");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "protocol", po::value<std::string>()->default_value("reference"), kProtocolHelp)(
      "channel", po::value<std::string>()->default_value("55"),
      "reference: the one channel set at the target (or top:1:FILE, as for --channels)")(
      "channel-value", po::value<double>()->default_value(5.5, "5.5"), "reference: its value")(
      "effective-channels", po::value<std::string>()->default_value("8,55,77,82,88,89,113"),
      "reference: the 'effective' cheese channels (C1,C2,... or top:K:FILE)")(
      "effective-value", po::value<double>()->default_value(2.3, "2.3"), "reference: their value")(
      "cheese-channels", po::value<std::string>()->default_value("7,8,42,44,55,77,82,88,89,99,113"),
      "reference: every cheese channel")("all-value", po::value<double>()->default_value(1.0),
                                         "reference: their value")("channels", po::value<std::string>(),
                                                                   "ours: channels to set at the target")(
      "value", po::value<double>()->default_value(5.5), "ours: the value they are set to")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "max-targets", po::value<int64_t>()->default_value(0), "targets per maze, evenly spread (0: every free cell)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "retarget", args, f, true);
  if (!s) return 0;
  const Protocol protocol = protocol_of(*s);
  const std::string layer = layer_of(*s);
  const int max_targets = static_cast<int>(flag_at_least(s->vm, "max-targets", 0));
  if (protocol == Protocol::kReference) {
    if (s->has("channels"))
      throw InputError(
          "--channels is for --protocol ours; the reference protocol takes --channel, "
          "--effective-channels and --cheese-channels");
    refuse_flags_of_other_protocol(*s, protocol, {"value"});
    const RetargetConditions k = reference_conditions(*s);
    s->claim({"retarget_reference.csv", "retarget_reference_summary.json"});
    MazeCounts counts;
    const auto levels = levels_of(*s, &counts);
    const auto rows = run_reference_retargeting(s->p(), layer, k, levels, max_targets);
    write_file((fs::path(s->out_dir) / "retarget_reference.csv").string(), reference_retarget_csv(rows));
    const std::string json = reference_retarget_summary_json(s->p(), s->str("seeds"), layer, k, rows, counts);
    write_file((fs::path(s->out_dir) / "retarget_reference_summary.json").string(), json);
    std::cout << json;
    return 0;
  }
  refuse_flags_of_other_protocol(
      *s, protocol,
      {"channel", "channel-value", "effective-channels", "effective-value", "cheese-channels", "all-value"});
  if (!s->has("channels")) throw InputError("--channels C1,C2,... is required with --protocol ours");
  const auto channels = channels_of(s->str("channels"));
  const double value = s->bounded("value");
  s->claim({"retarget.csv", "retarget_summary.json", "retarget.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto rows = run_retargeting(s->p(), layer, channels, value, levels, max_targets);
  write_file((fs::path(s->out_dir) / "retarget.csv").string(), retarget_csv(rows));
  const std::string json =
      retarget_summary_json(s->p(), s->str("seeds"), layer, s->str("channels"), value, rows, counts);
  write_file((fs::path(s->out_dir) / "retarget_summary.json").string(), json);
  std::cout << json;

  // The first maze's targets, before | after.
  const std::string svg = (fs::path(s->out_dir) / "retarget.svg").string();
  draw_retarget(levels.front(), rows, layer, s->str("channels"), value, svg);
  std::cerr << "wrote " << svg << " (seed " << levels.front().level_seed
            << ": path probability to each target, before | after)\n";
  return 0;
}

}  // namespace shardlab::analysis
