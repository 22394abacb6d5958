// Developmental milestones (issue 13): over a run's milestone checkpoints (run.milestone_every),
// when does each behaviour and each internal structure appear? At every checkpoint: the cheese
// rate on the training distribution and on uniform cheese, the corner rate on uniform cheese, the
// best cheese-tracking channel's score (the held-out R^2 of a ridge probe from one channel's map to
// the cheese's position, best channel), the cheese vector's effect at the decision square (median
// P(cheese | decision square) without minus with the vector subtracted, with its same-norm random
// control), and a linear probe's accuracy for the cheese's position from the whole layer; then the
// first step at which each crosses its threshold, and the order in which they do. The run's
// step-0 milestone (the untrained network) gives each measure's chance level.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agents/run_dir.h"

namespace shardlab {
class SpecSchema;
}

namespace shardlab::analysis {

struct MilestoneOptions {
  int64_t episodes = 200;                                 // per evaluation (sampled actions)
  int64_t maze_begin = 0, maze_end = 300;                 // level seeds of the internal measures
  std::string layer = "embedder.block2.res1.resadd_out";  // channels, cheese vector and probe
  std::vector<std::string> overrides;                     // spec keys set on every evaluation
};

// The measures, in the order of milestones.csv's columns after global_step.
const std::vector<std::string>& milestone_measures();
// A measure's threshold (crossed when the measure is at least this) and what it means.
struct MilestoneThreshold {
  double value = 0;
  std::string meaning;
};
std::map<std::string, MilestoneThreshold> default_milestone_thresholds();

struct MilestoneRow {
  int64_t global_step = 0;
  std::string checkpoint;
  std::map<std::string, double> values;  // by measure name
  int64_t best_channel = -1;             // the channel behind best_channel_score
};

struct MilestoneStudy {
  std::string run_dir, layer;
  int64_t episodes = 0, seeds = 0, mazes = 0, dropped = 0, without_cheese = 0, min_maze_size = 0, max_maze_size = 0;
  std::string seed_range;             // "A:B": the level seeds of the internal measures
  int64_t decision_square_mazes = 0;  // of `mazes`: those the cheese vector's effect is measured on
  std::vector<MilestoneRow> rows;
  std::map<std::string, MilestoneThreshold> thresholds;
  // The first global step at which each measure reaches its threshold; -1 if it never does.
  std::map<std::string, int64_t> first_crossing;
  // The measures that cross, ordered by their first crossing (ties keep the measures' order).
  std::vector<std::string> order;
};

// Measures every milestone of `milestones` (a run folder's, run_milestones()). Progress on stderr.
MilestoneStudy measure_milestones(const std::string& run_dir, const std::vector<Milestone>& milestones,
                                  const SpecSchema& schema, const MilestoneOptions& options,
                                  const std::map<std::string, MilestoneThreshold>& thresholds);

// First crossings and the order, from rows and thresholds (measure_milestones calls it).
void find_crossings(MilestoneStudy& study);

// The held-out accuracy of a ridge probe from activations (rows, features) to the cheese's world
// cell (rows, 2: x, y): trained on the first 80% of rows, a test row counts as correct when both
// rounded coordinates are within one cell of the cheese's (the channels study's "within one").
double cheese_position_probe_accuracy(const std::vector<std::vector<float>>& activations,
                                      const std::vector<std::pair<int, int>>& cheese_cells);

std::string milestones_csv(const MilestoneStudy& study);
std::string milestones_json(const MilestoneStudy& study);
// One panel of rates and one of internal measures, against training steps.
std::string milestones_svg(const MilestoneStudy& study);

}  // namespace shardlab::analysis
