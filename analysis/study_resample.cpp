// `shardlab analyze resample`: zero, mean or resampled channel sets against random sets of the same size.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/channels.h"
#include "analysis/study.h"
#include "analysis/study_reports.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;


int resample_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze resample RUN --channels C1,C2,... --seeds A:B [--layer L] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "channels", po::value<std::string>(), "the channel set, e.g. the top of `analyze channels`")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "random-sets", po::value<int64_t>()->default_value(10), "random channel sets of the same size to compare with")(
      "seed", po::value<int64_t>()->default_value(0), "seed for drawing the random sets (and, reference, the sources)")(
      "protocol", po::value<std::string>()->default_value("reference"),
      "reference: each channel resampled from its own random other level, mouse on a random cell, cheese moved "
      "onto the target's cheese cell (same) or left (other), cells without the cheese's; ours: from the next "
      "maze of --seeds, mouse at the start, every free cell. Both report mean_total_variation (ours) and "
      "reference_percent_changed (100 * |arrow differences| / cells / 2, the published table's quantity)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "resample", args, f, true);
  if (!s) return 0;
  if (!s->has("channels")) throw InputError("--channels C1,C2,... is required");
  const Protocol protocol = protocol_of(*s);
  const std::string layer = layer_of(*s);
  const auto channels = channels_of(s->str("channels"));
  const int64_t sets = s->vm["random-sets"].as<int64_t>();
  if (sets < 1 || sets > 1000) throw InputError("--random-sets " + std::to_string(sets) + ": expected 1..1000");
  s->claim({"resample.json"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto results =
      intervene_on_channels(s->p(), layer, channels, levels, static_cast<int>(sets),
                            static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)), protocol, &counts.used);
  const int64_t with_cheese =
      std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return l.has_cheese(); });
  if (with_cheese < static_cast<int64_t>(levels.size()))
    counts.other_left_out.push_back({"without_cheese", static_cast<int64_t>(levels.size()) - with_cheese});
  if (counts.used < with_cheese)
    counts.other_left_out.push_back({"without_same_cheese_source", with_cheese - counts.used});
  const std::string json =
      resample_summary_json(s->p(), s->str("seeds"), layer, s->str("channels"), sets, protocol, results, counts);
  write_file((fs::path(s->out_dir) / "resample.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::analysis
