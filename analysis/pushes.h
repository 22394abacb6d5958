// Shard "pushes" at the decision square (issue 13): how much each channel of a layer pushes the
// decision toward the cheese path or toward the top-right path. The decision is the gap
//   d = log P(cheese move | decision square) - log P(top-right move | decision square),
// and a channel's push is d minus d with that channel alone mean-ablated (set to its mean over the
// study's decision-square inputs, position by position): positive pushes toward the cheese. A
// second estimate is gradient times activation: dd/da . (a - mean a) summed over the channel's
// positions (the first-order Taylor estimate of the same quantity). Whether pushes add up is the
// sum of single-channel pushes against the push of ablating every channel at once; both are exact
// and equal when the network after the layer is linear in it and moves are single actions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"

namespace shardlab::analysis {

struct ChannelPush {
  int64_t channel = 0;
  std::vector<double> ablation;               // per maze
  std::vector<double> gradient_x_activation;  // per maze
};

struct PushStudy {
  std::string layer;
  int64_t mazes = 0, left_out = 0;
  std::vector<double> gap;           // d per maze, nothing ablated
  std::vector<double> all_channels;  // per maze: the push of ablating every channel at once
  std::vector<double> sum_of_single;  // per maze: the sum of the single-channel pushes
  std::vector<ChannelPush> channels;  // in channel order
};

// InputError for an unknown layer or no maze with a decision square.
PushStudy measure_pushes(const MazePolicy& policy, const std::string& layer, const std::vector<MazeLayout>& levels);

// Channels whose mean push is above zero by more than its 95% interval (toward the cheese) or below
// zero by more (toward the top-right corner), strongest first.
std::vector<int64_t> cheese_pushing(const PushStudy& s);
std::vector<int64_t> top_right_pushing(const PushStudy& s);

// Reports. `tracking_rank[c]`: channel c's rank (1 = best) in `analyze channels`' cheese tracking,
// or empty when the layer is not spatial.
std::string pushes_csv(const PushStudy& s, const std::vector<int64_t>& tracking_rank);
std::string pushes_json(const MazePolicy& policy, const std::string& seeds, const PushStudy& s,
                        const std::vector<int64_t>& tracking_order, const MazeCounts& counts);
// Each channel's mean push (both estimates) with 95% intervals.
std::string pushes_svg(const PushStudy& s);

}  // namespace shardlab::analysis
