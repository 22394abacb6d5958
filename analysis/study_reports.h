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
#include "analysis/retarget.h"
#include "analysis/steering.h"

namespace shardlab::analysis {

// ---- cheese vector, top-right vector
std::string steering_csv(const std::vector<SteeringRow>& rows);
// `mazes_left_out`: the mazes run_steering skipped (no decision square, no room for a corridor).
std::string steering_summary_json(const MazePolicy& policy, const std::string& seeds, const SteeringStudy& study,
                                  const SteeringSummary& summary, int64_t mazes_left_out);

// ---- channels
std::string channels_csv(const std::vector<ChannelScore>& scores);
// The first `top` scores as a table for people, with a header line.
std::string channels_table(const std::vector<ChannelScore>& scores, int64_t top);
// The channels' activations over a few mazes (mouse at the start) as an SVG figure, one row per
// channel ("channel N"), one column per maze ("seed S"), each channel scaled by its largest
// absolute value, with a colour scale.
void draw_channels(const MazePolicy& policy, const std::string& layer, const std::vector<int64_t>& channels,
                   const std::vector<MazeLayout>& mazes, const std::string& svg_path);

// ---- resample; `channels` is the channel set as given on the command line.
std::string resample_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, int64_t random_sets,
                                  const std::vector<InterventionResult>& results);

// ---- retarget
std::string retarget_csv(const std::vector<RetargetRow>& rows);
// Means over every target: path probability before and after, the share that rose, the share
// above one half after.
std::string retarget_summary_json(const MazePolicy& policy, const std::string& seeds, const std::string& layer,
                                  const std::string& channels, double value, const std::vector<RetargetRow>& rows);
// One maze (drawn without its cheese), each target cell coloured by its path probability:
// before the edit on the left, after it on the right, as an SVG figure titled with the edit
// (`layer`, `channels` as given, `value`) and a 0..1 colour scale.
void draw_retarget(const MazeLayout& level, const std::vector<RetargetRow>& rows, const std::string& layer,
                   const std::string& channels, double value, const std::string& svg_path);

// ---- behaviour; `mazes`: how many mazes the regression saw (train and test).
std::string behaviour_summary_json(const MazePolicy& policy, const std::string& seeds, int64_t mazes,
                                   const LogisticFit& fit);

}  // namespace shardlab::analysis
