// `shardlab analyze pushes`: each channel's push toward the cheese or the top-right path at the decision square.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/channels.h"
#include "analysis/pushes.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

int pushes_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze pushes RUN --seeds A:B [--layer L] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layer", po::value<std::string>(),
      (std::string("layer whose channels are ablated (default ") + kDefaultLayer + ")").c_str())(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "pushes", args, f, true);
  if (!s) return 0;
  const std::string layer = layer_of(*s);
  s->claim({"pushes.csv", "pushes.json", "pushes.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const PushStudy study = measure_pushes(s->p(), layer, levels);
  counts.used = study.mazes;
  counts.other_left_out.push_back({"without_decision_square", study.left_out});
  // The cheese-tracking ranking of `analyze channels` on the same mazes, for a spatial layer.
  std::vector<int64_t> tracking_order, tracking_rank;
  if (s->p().layer_shape(layer).size() == 3) {
    const auto scores = rank_cheese_channels(s->p(), layer, levels);
    tracking_rank.assign(scores.size(), 0);
    for (size_t i = 0; i < scores.size(); ++i) {
      tracking_order.push_back(scores[i].channel);
      tracking_rank[scores[i].channel] = static_cast<int64_t>(i + 1);
    }
  }
  write_file((fs::path(s->out_dir) / "pushes.csv").string(), pushes_csv(study, tracking_rank));
  write_file((fs::path(s->out_dir) / "pushes.svg").string(), pushes_svg(study));
  const std::string json = pushes_json(s->p(), s->str("seeds"), study, tracking_order, counts);
  write_file((fs::path(s->out_dir) / "pushes.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::analysis
