// `shardlab analyze resample`: zero, mean or resampled channel sets against random sets of the same size.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "analysis/pictures.h"
#include "analysis/report_json.h"
#include "analysis/resample.h"
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

std::string resample_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, int64_t random_sets, Protocol protocol,
                                  const std::vector<InterventionResult>& results, const MazeCounts& counts) {
  Json j = summary_header("resample", policy.checkpoint(), seeds, protocol_name(protocol), counts);
  j["layer"] = layer;
  j["channels"] = channels;
  j["mazes"] = protocol == Protocol::kReference ? "the mazes with a decision square" : "every maze with cheese";
  j["sources"] = protocol == Protocol::kReference
                     ? "per target maze and channel, a random other level where the cell is open, mouse on a random "
                       "empty cell, cheese moved onto the target's cheese cell (same) or onto a third random level's "
                       "cheese cell, one per target and channel set (other); cells: every free cell but the cheese's"
                     : "maze m takes maze m+1's activations, mouse at the start, cheese moved onto m's cheese cell "
                       "(same) or left (other); cells: every free cell";
  j["random_sets"] = random_sets;
  // The Student-t 95% interval of a mean over mazes.
  const auto ci95 = [](double mean, const std::vector<double>& per_maze) {
    const double half = t_interval95(per_maze);
    return Json::array({number(mean - half), number(mean + half)});
  };
  Json tv = Json::object(), percent = Json::object();
  for (const auto& r : results) {
    tv[r.intervention] = {{"channels", number(r.tv_channels)}, {"random_channels", number(r.tv_random)}};
    percent[r.intervention] = {{"channels", number(r.percent_channels)},
                               {"channels_ci95", ci95(r.percent_channels, r.percent_channels_per_maze)},
                               {"random_channels", number(r.percent_random)},
                               {"random_channels_ci95", ci95(r.percent_random, r.percent_random_per_maze)}};
  }
  j["mean_total_variation"] = tv;
  j["mean_total_variation_is"] = "ours: total-variation distance of the move distribution, mean over every cell";
  j["reference_percent_changed"] = percent;
  j["reference_percent_changed_is"] =
      "procgen-tools' vf_diff_magnitude / 2 in percent: 100 * norm of all left/down/up/right probability "
      "differences / cells / 2, mean over mazes with a Student-t 95% interval over mazes (the published 0.88% / "
      "1.26% / 0.60% / 0.54%)";
  return dump(j);
}

}  // namespace

int resample_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze resample RUN --channels C1,C2,... --seeds A:B [--layer L] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "channels", po::value<std::string>(),
      "the channel set: C1,C2,... or top:K:FILE, the first K of a channels.csv of `analyze channels` (rank them on "
      "other mazes)")("layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "random-sets", po::value<int64_t>()->default_value(10), "random channel sets of the same size to compare with")(
      "seed", po::value<int64_t>()->default_value(0), "seed for drawing the random sets (and, reference, the sources)")(
      "protocol", po::value<std::string>()->default_value("reference"),
      "reference: mazes with a decision square; each channel resampled from its own random other level, mouse "
      "on a random cell, cheese moved onto the target's cheese cell (same) or a third random level's (other), "
      "cells without the cheese's; ours: every maze with cheese, from the next maze of --seeds, mouse at the "
      "start, cheese moved (same) or left (other), every free cell. Both report mean_total_variation (ours) and "
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
  if (protocol == Protocol::kReference) {
    // A decision square needs cheese: one reason covers both.
    counts.other_left_out.push_back({"without_decision_square", static_cast<int64_t>(levels.size()) - counts.used});
  } else {
    if (with_cheese < static_cast<int64_t>(levels.size()))
      counts.other_left_out.push_back({"without_cheese", static_cast<int64_t>(levels.size()) - with_cheese});
    if (counts.used < with_cheese)
      counts.other_left_out.push_back({"without_same_cheese_source", with_cheese - counts.used});
  }
  const std::string json =
      resample_summary_json(s->p(), s->str("seeds"), layer, s->str("channels"), sets, protocol, results, counts);
  write_file((fs::path(s->out_dir) / "resample.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::analysis
