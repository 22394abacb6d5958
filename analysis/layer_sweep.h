// The layer sweep (issue 13): the cheese vectors applied at every layer, to see which layer
// steers best (../shared/reference/studies.md). `sweep_layers` lists the layers it visits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"

namespace shardlab::analysis {

// The layers the sweep visits by default: each block's conv and maxpool outputs, each residual
// add, then the fc layers (relu3, flatten, fc, relufc); "all" adds every other tap except the
// value head. The policy's layers, in network order.
std::vector<std::string> sweep_layers(const MazePolicy& policy, bool all);

struct LayerSweepRow {
  std::string layer;
  int64_t depth = 0;  // position among the policy's taps
  std::string shape;  // e.g. "16x4x4"
  double per_maze_norm = 0, mean_difference_norm = 0;
  // Per maze: P(cheese | d.s.) with the vector minus without (one value per maze).
  std::vector<double> effect_per_maze, effect_mean_difference, effect_random;
  double median_p_cheese_per_maze = 0, median_p_cheese_mean_difference = 0, median_p_cheese_random = 0;
};

struct LayerSweep {
  double coeff = -1;
  int64_t mazes = 0, left_out = 0;
  double median_p_cheese = 0;  // no vector
  std::vector<LayerSweepRow> rows;
};

// At each layer: the per-maze cheese vector and the mean difference over the mazes, each added
// with `coeff` (the published cheese vector is subtracted: coeff -1), and a random vector of each
// maze's per-maze-vector norm. At coeff 0 every effect is exactly 0.
LayerSweep sweep_steering_layers(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                 const std::vector<std::string>& layers, double coeff, uint64_t seed);

// ---- reports
std::string layer_sweep_csv(const LayerSweep& s);
std::string layer_sweep_json(const MazePolicy& policy, const std::string& seeds, const LayerSweep& s,
                             const MazeCounts& counts);
// The mean change of P(cheese | d.s.) against depth, with its 95% interval as a band.
std::string layer_sweep_svg(const LayerSweep& s);

}  // namespace shardlab::analysis
