// `shardlab analyze layer-sweep`: the cheese vectors at every layer: which steers best.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "analysis/layer_sweep.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

int layer_sweep_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f("shardlab analyze layer-sweep RUN --seeds A:B [--layers main|all|L1,L2,...] [--coeff C] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layers", po::value<std::string>()->default_value("main"),
      "main: block conv, maxpool and residual-add outputs and the fc layers; all: every tap but the value head; "
      "or a comma-separated list")("coeff", po::value<double>()->default_value(-1.0),
                                   "coefficient of the cheese vectors (-1: subtracted, as published)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random control vectors")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "layer-sweep", args, f, true);
  if (!s) return 0;
  const std::string which = s->str("layers");
  std::vector<std::string> layers;
  if (which == "main" || which == "all") {
    layers = sweep_layers(s->p(), which == "all");
  } else {
    for (const auto& item : split(which, ','))
      if (!item.empty()) layers.push_back(item);
  }
  if (layers.empty()) throw InputError("--layers " + which + ": no layer named");
  s->claim({"layer_sweep.csv", "layer_sweep.json", "layer_sweep.svg"});
  MazeCounts counts;
  const LayerSweep sweep = sweep_steering_layers(s->p(), levels_of(*s, &counts), layers, s->bounded("coeff"),
                                                 static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)));
  counts.used = sweep.mazes;
  counts.other_left_out.push_back({"without_decision_square", sweep.left_out});
  write_file((fs::path(s->out_dir) / "layer_sweep.csv").string(), layer_sweep_csv(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.svg").string(), layer_sweep_svg(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.json").string(),
             layer_sweep_json(s->p(), s->str("seeds"), sweep, counts));
  std::printf("%lld mazes with a decision square (%lld left out); median P(cheese) without a vector %.3f\n",
              static_cast<long long>(sweep.mazes), static_cast<long long>(sweep.left_out), sweep.median_p_cheese);
  std::printf("%-40s %-10s %22s %22s %22s\n", "layer", "shape", "per-maze: dP(cheese)", "mean diff: dP(cheese)",
              "random: dP(cheese)");
  for (const auto& r : sweep.rows)
    std::printf("%-40s %-10s %22s %22s %22s\n", r.layer.c_str(), r.shape.c_str(),
                mean_and_interval_text(r.effect_per_maze, 3).c_str(),
                mean_and_interval_text(r.effect_mean_difference, 3).c_str(),
                mean_and_interval_text(r.effect_random, 3).c_str());
  return 0;
}

}  // namespace shardlab::analysis
