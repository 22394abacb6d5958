// `shardlab analyze channels`: a layer's channels ranked by how well they track the cheese.
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
