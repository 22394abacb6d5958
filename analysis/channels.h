// Channels that track the cheese, the protocols of the studies that measure published quantities,
// and the reference's "% changed" of a vector field (resampling itself: analysis/resample.h).
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

// How a study draws its inputs: as the reference does (../shared/reference/studies.md, "Protocols
// in detail"), or our earlier variant. Every study that measures a published quantity takes
// `--protocol reference|ours`.
enum class Protocol { kReference, kOurs };
Protocol parse_protocol(const std::string& text);  // "reference" or "ours"; InputError otherwise
const char* protocol_name(Protocol p);

// The reference's "% changed" of a vector field (procgen-tools visualization.py,
// vf_diff_magnitude_from_seed): the norm of every arrow difference divided by the number of cells,
// halved, in percent. Its arrows are the probability-weighted unit moves, one per move, so the norm
// runs over (cells, left/down/up/right) probability differences and no-op counts for nothing:
//   100 * sqrt(sum_cells sum_moves (p' - p)^2) / cells / 2.
// It shrinks like 1/sqrt(cells): not a mean total variation. `original`, `patched`: (cells, 5).
double vector_field_change_percent(const at::Tensor& original, const at::Tensor& patched);

}  // namespace shardlab::analysis
