// What the studies of `shardlab analyze` report (../shared/reference/studies.md): per-maze tables
// as CSV, summaries as JSON (each file written is also printed), the channel ranking as a table,
// and the pictures. The command line only parses flags, runs a study and writes these.
//
// Summaries record where their numbers came from (the checkpoint, the seeds as given); numbers
// keep 6 significant digits, and a number that is not finite is written as null.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/retarget.h"
#include "analysis/steering.h"

namespace shardlab::analysis {

// ---- cheese vector, top-right vector
std::string steering_csv(const std::vector<SteeringRow>& rows);
// `mazes_left_out`: the mazes run_steering skipped (no decision square, no room for a corridor).
std::string steering_summary_json(const MazePolicy& policy, const std::string& seeds, const SteeringStudy& study,
                                  const SteeringSummary& summary, int64_t mazes_left_out, const MazeCounts& counts);

// ---- channels
std::string channels_csv(const std::vector<ChannelScore>& scores);
// The maze counts and the first `top` channels with their scores.
std::string channels_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::vector<ChannelScore>& scores, int64_t top, const MazeCounts& counts);
// The first `top` scores as a table for people, with a header line.
std::string channels_table(const std::vector<ChannelScore>& scores, int64_t top);
// The channels' activations over a few mazes (mouse at the start) as an SVG figure, one row per
// channel ("channel N"), one column per maze ("seed S"), each channel scaled by its largest
// absolute value, with a colour scale.
void draw_channels(const MazePolicy& policy, const std::string& layer, const std::vector<int64_t>& channels,
                   const std::vector<MazeLayout>& mazes, const std::string& svg_path);

// ---- resample; `channels` is the channel set as given on the command line.
// Both quantities, labelled apart: "mean_total_variation" (ours) and "reference_percent_changed"
// (the published table's).
std::string resample_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, int64_t random_sets, Protocol protocol,
                                  const std::vector<InterventionResult>& results, const MazeCounts& counts);

// ---- retarget
std::string retarget_csv(const std::vector<RetargetRow>& rows);
// Means over every target: path probability before and after, the share that rose, the share
// above one half after.
std::string retarget_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, double value, const std::vector<RetargetRow>& rows,
                                  const MazeCounts& counts);
// The reference's four conditions: per target (CSV) and means (JSON: mean normalized path
// probability per condition, the share of targets each condition raises above "normal").
std::string reference_retarget_csv(const std::vector<ReferenceRetargetRow>& rows);
std::string reference_retarget_summary_json(const MazePolicy& policy, const std::string& seeds,
                                            const std::string& layer, const RetargetConditions& conditions,
                                            const std::vector<ReferenceRetargetRow>& rows, const MazeCounts& counts);
// One maze (drawn without its cheese), each target cell coloured by its path probability:
// before the edit on the left, after it on the right, as an SVG figure titled with the edit
// (`layer`, `channels` as given, `value`) and a 0..1 colour scale.
void draw_retarget(const MazeLayout& level, const std::vector<RetargetRow>& rows, const std::string& layer,
                   const std::string& channels, double value, const std::string& svg_path);

// ---- behaviour; `mazes`: how many mazes the regression saw (train and test).
std::string behaviour_summary_json(const MazePolicy& policy, const std::string& seeds, int64_t mazes,
                                   const LogisticFit& fit, const MazeCounts& counts);
// The reference protocol: how the episodes were drawn and judged, the cheese rate, the 50-split
// accuracy against the majority baseline and the coefficients (mean, sd, splits where nonzero).
struct BehaviourProtocol {
  int64_t episodes = 0, seed_range = 0, max_steps = 0;
  uint64_t seed = 0;
};
std::string behaviour_reference_json(const MazePolicy& policy, const BehaviourProtocol& protocol,
                                     const SplitRegression& r, const MazeCounts& counts);
// Per maze: level seed, maze size, got the cheese, the eleven features.
std::string behaviour_reference_csv(const std::vector<MazeLayout>& mazes, const std::vector<bool>& got,
                                    const std::vector<std::vector<double>>& features);

}  // namespace shardlab::analysis
