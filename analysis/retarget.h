// Retargeting: remove the cheese, overwrite channels at a target's activation position, and see
// whether the policy now heads for the target (normalized path probability:
// the geometric mean of the policy's probability of the right move along the shortest path from
// the start to the target).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

// The normalized path probability of `path` (start first, target last) with probabilities
// `probs` (path.size() - 1, 5) of the mouse on each cell but the last.
double normalized_path_probability(const std::vector<Cell>& path, const at::Tensor& probs);

struct RetargetRow {
  uint32_t seed = 0;
  Cell target;
  int path_length = 0;               // moves from the start
  double distance_to_top_right = 0;  // Euclidean, in cells, from the target to the maze's top-right cell
  double npp_before = 0;             // cheese removed, no edit
  double npp_after = 0;              // cheese removed, channels set at the target
};

// For every maze and every free target cell but the start (at most `max_targets` per maze,
// evenly spread), with `channels` of `layer` set to `value` at the target's position.
std::vector<RetargetRow> run_retargeting(const MazePolicy& policy, const std::string& layer,
                                         const std::vector<int64_t>& channels, double value,
                                         const std::vector<MazeLayout>& levels, int max_targets);

}  // namespace shardlab::analysis
