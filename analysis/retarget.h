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

// ---- The reference's four conditions (procgen-tools experiments/collect_retargeting_data.py,
// run_retargeting.sh, retarget_quantitative.ipynb). Every condition starts from the maze with its
// cheese removed, and is measured by the normalized path probability from the start to the target.
struct RetargetConditions {
  int64_t channel = 55;  // "55": this channel := channel_value at the target's position
  double channel_value = 5.5;
  std::vector<int64_t> effective = {8, 55, 77, 82, 88, 89, 113};  // "effective": these := effective_value
  double effective_value = 2.3;
  std::vector<int64_t> cheese_channels = {7, 8, 42, 44, 55, 77, 82, 88, 89, 99, 113};  // "all": := all_value
  double all_value = 1.0;
};

// One target under every condition.
struct ReferenceRetargetRow {
  uint32_t seed = 0;
  Cell target;
  int path_length = 0;
  double distance_to_top_right = 0;
  double npp_normal = 0;     // cheese removed, no edit (the reference's "normal")
  double npp_channel = 0;    // the one channel set at the target
  double npp_effective = 0;  // the effective channels set at the target
  double npp_all = 0;        // every cheese channel set at the target
  double npp_cheese = 0;     // baseline: no edit, the cheese itself moved onto the target
};

// The inputs of the conditions for one maze `l` (its cheese removed) and its targets: each
// target's shortest path from the start, and per input (the mouse on each path cell but the last,
// targets in order) the maze (`plain`), the maze with the cheese moved onto the target (`cheese`,
// the baseline), and the target's activation position (h, w) in `layer`.
struct ReferenceRetargetInputs {
  std::vector<std::vector<Cell>> paths;
  std::vector<MazeInput> plain, cheese;
  std::vector<int64_t> h, w;
};
ReferenceRetargetInputs reference_retarget_inputs(const MazePolicy& policy, const std::string& layer,
                                                  const MazeLayout& l, const std::vector<Cell>& targets);

// The conditions' edit: `channels` := `value` at batch element b's own position (h[b], w[b]),
// nothing else changed. h and w have one entry per batch element.
ActivationPatch set_channels_at_each(const std::vector<int64_t>& channels, std::vector<int64_t> h,
                                     std::vector<int64_t> w, double value);

// The reference's patch overwrites the channel's whole map in every batch element with the first
// element's map plus the pixel (patch_utils.combined_pixel_patch), and retarget_heatmap caches one
// value per activation position, so cells that share a position share a value. We reproduce
// neither: each input keeps its own map with only the target's position overwritten, and every
// target cell gets its own path probability. What we reproduce: the cheese removed in every
// condition, the conditions and their values, the target set (every free cell but the start), and
// the metric. Inputs run `max_batch` at a time (MazePolicy::in_chunks).
std::vector<ReferenceRetargetRow> run_reference_retargeting(const MazePolicy& policy, const std::string& layer,
                                                            const RetargetConditions& conditions,
                                                            const std::vector<MazeLayout>& levels, int max_targets,
                                                            int64_t max_batch = kMaxBatch);

}  // namespace shardlab::analysis
