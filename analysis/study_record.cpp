// `shardlab analyze record`: activations on a range of mazes into an HDF5 activation log.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/activation_log.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

int record_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze record RUN --seeds A:B [--layers L1,L2|all] [--mouse start|all] --out FILE.h5");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (A, ..., B-1)")(
      "layers", po::value<std::string>()->default_value("all"), "layers to record, comma-separated, or all")(
      "mouse", po::value<std::string>()->default_value("start"), "start: mouse at the start; all: a row per free cell")(
      "out", po::value<std::string>(), "the activation log to write (.h5)");
  auto s = open_study(schema, "record", args, f, false);
  if (!s) return 0;
  if (!s->has("out")) throw InputError("--out FILE.h5 is required");
  RecordOptions o;
  std::tie(o.seed_begin, o.seed_end) = seeds_of(*s);
  const std::string layers = s->str("layers");
  if (layers != "all")
    for (const auto& item : split(layers, ','))
      if (!item.empty()) o.layers.push_back(item);
  const std::string mouse = s->str("mouse");
  if (mouse != "start" && mouse != "all") throw InputError("--mouse " + mouse + ": expected start or all");
  o.mouse_everywhere = mouse == "all";
  o.force = s->has("force");  // record_activations claims the file before recording
  const int64_t rows = record_activations(s->p(), o, s->str("out"), std::string("shardlab ") + SHARDLAB_VERSION);
  std::cout << "wrote " << rows << " rows to " << s->str("out") << '\n';
  return 0;
}

}  // namespace shardlab::analysis
