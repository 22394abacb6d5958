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
  // The percent of each studied maze (for the random sets, the mean over the sets), whose mean the
  // two above are: for intervals over mazes.
  std::vector<double> percent_channels_per_maze, percent_random_per_maze;
};

// The reference's sources for one target maze and one channel set (cheese_scrubbing.ipynb,
// resample_activations; patch_utils.get_random_patch; maze.get_random_obs_opts). The cheese of
// every source is moved onto one cell, in both conditions: the target's own cheese cell ("same";
// resampling_seed = the target's seed) or the cheese cell of a third random level ("different";
// resampling_seed = np.random.randint(0, 1e8)), drawn once for the set and shared by its channels.
struct ReferenceSources {
  uint32_t cheese_level_seed = 0;  // the level whose cheese cell it is: the target's, or the third's
  Cell cheese;                     // that cell
  std::vector<MazeInput> sources;  // one per channel (get_random_patch draws one per channel)
};
ReferenceSources reference_sources(const MazePolicy& policy, const MazeLayout& target, size_t channels,
                                   bool same_cheese, Rng& rng);

// One source (get_random_obs_opts with cheese_pos_outer): a random level other than the target's,
// of a size the policy studies, where `cheese_cell` is open (a level where it is a wall is skipped,
// so large mazes are drawn more often for a cell far out), with its cheese moved onto that cell
// and the mouse on a random cell that was empty before the move (free, not the level's own cheese
// cell: the mouse may stand on the moved cheese, as there).
MazeInput reference_source(const MazePolicy& policy, uint32_t target_seed, Cell cheese_cell, Rng& rng);

// Interventions on `channels` of `layer`, each against `random_sets` random sets of the same size
// drawn from the other channels with `seed`.
// - Protocol::kReference: only the mazes with a decision square are studied (the notebook skips
//   the others); each channel of each target maze gets its own source (reference_sources), drawn
//   once and used for every cell of the target's vector field; the cells are the vector field's
//   (every free cell but the cheese's).
// - Protocol::kOurs: every maze with cheese; maze m takes maze m+1's activations (mouse at the
//   start), with the cheese moved onto m's cheese cell (same) or as it is (other); the cells are
//   every free cell.
// `mazes_used` (may be null) receives how many mazes the numbers come from. Inputs run
// `max_batch` at a time (MazePolicy::in_chunks).
std::vector<InterventionResult> intervene_on_channels(const MazePolicy& policy, const std::string& layer,
                                                      const std::vector<int64_t>& channels,
                                                      const std::vector<MazeLayout>& levels, int random_sets,
                                                      uint64_t seed, Protocol protocol = Protocol::kOurs,
                                                      int64_t* mazes_used = nullptr, int64_t max_batch = kMaxBatch);

}  // namespace shardlab::analysis
