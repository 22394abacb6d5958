// Channels that track the cheese, and what happens when they are ablated or resampled
// (the comparison of the published causal-scrubbing table, ../shared/reference/studies.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

// How well one channel tracks the cheese over a set of mazes (mouse at the start).
struct ChannelScore {
  int64_t channel = 0;
  double peak_hit_rate = 0;   // mazes whose channel maximum lies within one position of the cheese's
  double probe_r2 = 0;        // held-out R^2 of a ridge probe from the channel map to the cheese (x, y)
  double mean_at_cheese = 0;  // mean activation at the cheese's position
  double mean_elsewhere = 0;  // mean activation at every other position
};

// Scores every channel of a spatial layer on mazes with cheese; the probe trains on the first 80%
// of the mazes and is scored on the rest. Sorted best first (peak hit rate, then probe R^2).
std::vector<ChannelScore> rank_cheese_channels(const MazePolicy& policy, const std::string& layer,
                                               const std::vector<MazeLayout>& levels);

// A channel intervention and the policy's mean total-variation change over every free cell of
// every maze.
struct InterventionResult {
  std::string intervention;  // zero, mean, resample_same_cheese, resample_other_cheese
  double tv_channels = 0;    // the chosen channels
  double tv_random = 0;      // random channel sets of the same size (mean over the sets)
};

// Interventions on `channels` of `layer`, each against `random_sets` random sets of the same size
// drawn from the other channels with `seed`. Resampling takes the channels' activations from
// another maze of `levels` whose cheese is put on the same cell (same) or left elsewhere (other).
std::vector<InterventionResult> intervene_on_channels(const MazePolicy& policy, const std::string& layer,
                                                      const std::vector<int64_t>& channels,
                                                      const std::vector<MazeLayout>& levels, int random_sets,
                                                      uint64_t seed);

}  // namespace shardlab::analysis
