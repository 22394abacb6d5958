// Resampling channels (the published causal-scrubbing table, ../shared/reference/studies.md):
// replace a channel set's activations with those of another maze (or zero / mean ablate them) and
// measure how much the policy's move distribution changes, against random channel sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "core/rng.h"

namespace shardlab::analysis {

// A channel intervention and how much it changes the policy, two ways:
// - mean_total_variation (ours): the total-variation distance of the move distribution, averaged
//   over every cell of every maze;
// - reference_percent_changed: vector_field_change_percent per maze, averaged over the mazes (the
//   published table's quantity: 0.88% / 1.26% / 0.60% / 0.54%).
struct InterventionResult {
  std::string intervention;  // zero, mean, resample_same_cheese, resample_other_cheese
  double tv_channels = 0;    // the chosen channels
  double tv_random = 0;      // random channel sets of the same size (mean over the sets)
  double percent_channels = 0, percent_random = 0;
};

// A source for the reference's resampling of maze `target_seed`: a random other level (any seed
// but the target's, of a size the policy studies) with the cheese moved onto `cheese_cell` if given
// ("same"; redrawn where that cell is a wall or the start there) or left where it is ("other"),
// the mouse on a random free cell but the cheese's.
MazeInput reference_source(const MazePolicy& policy, uint32_t target_seed, const Cell* cheese_cell, Rng& rng);

// Interventions on `channels` of `layer`, each against `random_sets` random sets of the same size
// drawn from the other channels with `seed`.
// - Protocol::kReference (cheese_scrubbing.ipynb, patch_utils.get_random_patch): each channel of
//   each target maze gets its own source, a random other level (any seed, of a size the policy
//   studies) with the mouse on a random free cell and the cheese moved onto the target's cheese
//   cell (same; a source where that cell is a wall is drawn again) or left where it is (other);
//   the cells are the vector field's (every free cell but the cheese's).
// - Protocol::kOurs: maze m takes maze m+1's activations (mouse at the start), with the cheese
//   moved onto m's cheese cell (same) or as it is (other); the cells are every free cell.
// `mazes_used` (may be null) receives how many mazes the numbers come from. Inputs run
// `max_batch` at a time (MazePolicy::in_chunks).
std::vector<InterventionResult> intervene_on_channels(const MazePolicy& policy, const std::string& layer,
                                                      const std::vector<int64_t>& channels,
                                                      const std::vector<MazeLayout>& levels, int random_sets,
                                                      uint64_t seed, Protocol protocol = Protocol::kOurs,
                                                      int64_t* mazes_used = nullptr, int64_t max_batch = kMaxBatch);

}  // namespace shardlab::analysis
