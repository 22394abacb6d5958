// Retargeting: remove the cheese, overwrite channels at a target's activation position, and see
// whether the policy now heads for the target (normalized path probability:
// the geometric mean of the policy's probability of the right move along the shortest path from
// the start to the target).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
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

// ---- The reference protocol: procgen-tools experiments/collect_retargeting_data.py (the
// conditions), run_retargeting.sh (their values), visualization.retarget_heatmap (targets, cache),
// patch_utils.combined_pixel_patch / get_channel_pixel_patch (the edit), maze.geometric_probability_path
// (the metric) and retarget_quantitative.ipynb with maze.distance_to_tr_path (the analysis).
// Every condition starts from the maze with its cheese removed, and is measured by the normalized
// path probability from the start to the target. The reference's own details, kept:
// - the edit: get_channel_pixel_patch replaces the patched channel's whole map in every batch
//   element with the FIRST element's map plus the pixel. Its batch is vector_field's, one input per
//   empty cell in get_legal_mouse_positions' order (bottom row first, left to right), so the first
//   element is the mouse on the start (the bottom-left cell). Here every batch that runs an edit
//   starts with that input (repeated at the head of each chunk), and the patch reads element 0;
// - the cache: retarget_heatmap keeps one value per activation position (filter_coord) for every
//   condition but "normal", so a target whose position an earlier target (same order) already had
//   gets that target's value, the path probability to the EARLIER target;
// - the baseline "cheese" returns None where the activation position is (0, 0) (cheese_at_square
//   tests the position, meant as the mouse's cell): NaN here, left out of the means;
// - the targets: every empty cell but the start (the cheese removed, its cell is a target);
// - the analysis: distance from the path to the top-right corner (distance_to_tr_path), not
//   Euclidean distance.
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
  int path_length = 0;                     // moves from the start to the target
  int topright_path_divergence = 0;        // cells of the path to the target that are off the path to the top-right
  int64_t filter_row = 0, filter_col = 0;  // the target's activation position (retarget_heatmap's filter_coord)
  Cell measured;                           // the first target at that position: the cached conditions' path runs to it
  double npp_normal = 0;                   // cheese removed, no edit (the reference's "normal"; never cached)
  double npp_channel = 0;                  // the one channel set at the target
  double npp_effective = 0;                // the effective channels set at the target
  double npp_all = 0;                      // every cheese channel set at the target
  double npp_cheese = 0;  // baseline: no edit, the cheese itself moved onto the target (NaN at position (0, 0))
};

// maze.distance_to_tr_path: how many cells of the path from the start to `target` are not on the
// path from the start to the maze's top-right cell (0 on that path; in a tree maze, the steps
// from the path to the top-right out to the target).
int topright_path_divergence(const MazeLayout& maze, Cell target);

// get_channel_pixel_patch for each channel (composed, as combined_pixel_patch): the channel's map
// in every batch element := batch element 0's map, with position (h, w) := value.
ActivationPatch first_element_map_plus_pixel(const std::vector<int64_t>& channels, int64_t h, int64_t w, double value);

// The network as the reference protocol runs it: move probabilities (inputs, 5) of `inputs` with
// `patch` on the layer (null: none). A patch reads batch element 0, so every chunk of a patched
// pass starts with inputs[0] (its repeat's output dropped). Tests pass their own to count calls.
using RetargetNetwork = std::function<at::Tensor(const std::vector<MazeInput>& inputs, const ActivationPatch* patch)>;
RetargetNetwork retarget_network(const MazePolicy& policy, const std::string& layer, int64_t max_batch = kMaxBatch);

// One maze (`original`, its cheese removed here) and its targets, in order: "normal" in one pass
// over every target's path; each other condition once per activation position, on the path to
// the first target there, with the mouse on the start as the first input of every edited pass.
std::vector<ReferenceRetargetRow> reference_retarget_maze(const MazePolicy& policy, const std::string& layer,
                                                          const RetargetConditions& conditions,
                                                          const MazeLayout& original, const std::vector<Cell>& targets,
                                                          const RetargetNetwork& network);

// Every maze of `levels`, every target (at most `max_targets` per maze, evenly spread; 0: all).
// Inputs run `max_batch` at a time.
std::vector<ReferenceRetargetRow> run_reference_retargeting(const MazePolicy& policy, const std::string& layer,
                                                            const RetargetConditions& conditions,
                                                            const std::vector<MazeLayout>& levels, int max_targets,
                                                            int64_t max_batch = kMaxBatch);

}  // namespace shardlab::analysis
