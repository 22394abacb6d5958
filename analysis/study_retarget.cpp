// `shardlab analyze retarget`: remove the cheese, set channels at a target, measure the path probability.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/retarget.h"
#include "analysis/study.h"
#include "analysis/study_reports.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;


int retarget_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze retarget RUN --seeds A:B [--protocol reference|ours] [--layer L] [--out DIR]\n"
      "  reference (procgen-tools' four conditions, cheese removed in each): --channel C := --channel-value at the\n"
      "    target; --effective-channels := --effective-value; --cheese-channels := --all-value; and the baseline\n"
      "    with the cheese itself moved onto the target. Defaults are the published model's channels (55; 8,55,77,\n"
      "    82,88,89,113; 7,8,42,44,55,77,82,88,89,99,113): give your own network's. Writes retarget_reference.csv,\n"
      "    retarget_reference_summary.json\n"
      "  ours: --channels C1,C2 := --value at the target, before / after: retarget.csv, retarget_summary.json,\n"
      "    retarget.svg\n"
      "  metric: normalized path probability from the start to the target");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "protocol", po::value<std::string>()->default_value("reference"), kProtocolHelp)(
      "channel", po::value<int64_t>()->default_value(55), "reference: the one channel set at the target")(
      "channel-value", po::value<double>()->default_value(5.5, "5.5"), "reference: its value")(
      "effective-channels", po::value<std::string>()->default_value("8,55,77,82,88,89,113"),
      "reference: the 'effective' cheese channels")("effective-value", po::value<double>()->default_value(2.3, "2.3"),
                                                    "reference: their value")(
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
    RetargetConditions k;
    k.channel = s->vm["channel"].as<int64_t>();
    k.channel_value = s->bounded("channel-value");
    k.effective = channels_of(s->str("effective-channels"));
    k.effective_value = s->bounded("effective-value");
    k.cheese_channels = channels_of(s->str("cheese-channels"));
    k.all_value = s->bounded("all-value");
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
  refuse_flags_of_other_protocol(*s, protocol,
                                 {"channel", "channel-value", "effective-channels", "effective-value",
                                  "cheese-channels", "all-value"});
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
