// Developmental milestones (issue 13, redesigned in issue 30): over the milestone checkpoints of one
// or more runs (run.milestone_every; each run its own seed, the same steps), when does each behaviour
// and each internal structure appear, and do the runs agree on the order?
//
// At every checkpoint: the cheese rate on the training distribution and on uniform cheese, the corner
// rate on uniform cheese (sampled actions, the same evaluation seeds at every checkpoint), the best
// single cheese channel's R^2 (chosen on the fit mazes, scored on the test mazes), the cheese vector's
// effect at the decision square (median P(cheese | d.s.) without minus with it subtracted, on the test
// mazes, with its same-norm random control) and a whole-layer probe's accuracy for the cheese's cell
// (trained on the fit mazes, scored on the test mazes). The thresholds, crossings, intervals and the
// agreement across runs are analysis/milestone_crossings.h's.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agents/run_dir.h"
#include "analysis/milestone_crossings.h"

namespace shardlab {
class SpecSchema;
}

namespace shardlab::analysis {

struct MilestoneOptions {
  int64_t episodes = 200;                                 // per evaluation (sampled actions)
  std::pair<int64_t, int64_t> test_seeds{0, 300};         // level seeds [A, B) every internal value comes from
  std::pair<int64_t, int64_t> fit_seeds{300, 600};        // disjoint: where the channel and the probe are fitted
  std::string layer = "embedder.block2.res1.resadd_out";  // channels, cheese vector and probe
  std::vector<std::string> overrides;                     // spec keys set on every evaluation
  CrossingOptions crossing;
  int64_t permutations = 2000;  // Kendall's W's permutation test
};

// A measured quantity: its name (a column of milestones.csv), what it is, and whether it is a
// milestone (has a threshold) or a control.
struct MilestoneQuantity {
  std::string name, meaning;
  bool milestone = true;
};
const std::vector<MilestoneQuantity>& milestone_quantities();

// Maze counts of one split (analysis/report_json.h's MazeCounts).
struct SplitCounts {
  int64_t seeds = 0, outside_sizes = 0, without_cheese = 0, used = 0;
};

// One run's measurements: per quantity (milestone_quantities()' order), its units at each milestone.
struct MilestoneRun {
  std::string run_dir;
  int64_t run_seed = -1;  // run.json's seed; -1 if the run has none
  std::vector<int64_t> steps;
  std::vector<std::string> checkpoints;
  std::vector<QuantitySeries> series;
  std::vector<int64_t> best_channel;  // per milestone: the channel chosen on the fit mazes
  std::vector<double> best_channel_fit_r2;
  SplitCounts fit, test;
  int64_t decision_square_mazes = 0;  // of the test mazes: those the cheese vector's effect is measured on
  int64_t min_maze_size = 0, max_maze_size = 0;
};

// Measures every milestone of a run (run_milestones()). Progress on stderr.
MilestoneRun measure_milestones(const std::string& run_dir, const std::vector<Milestone>& milestones,
                                const SpecSchema& schema, const MilestoneOptions& options);

// InputError (one line) unless every run kept the same milestone steps and the runs are distinct
// folders with distinct seeds.
void check_comparable_runs(const std::vector<std::string>& run_dirs,
                           const std::vector<std::vector<Milestone>>& milestones);

// A run's analysis: per quantity its result; per rule the milestones' crossing indices (-1 never)
// and ranks, over the milestone quantities only.
struct RunAnalysis {
  std::vector<QuantityResult> quantities;       // milestone_quantities()' order
  std::vector<std::vector<int64_t>> crossings;  // [rule][milestone quantity]
  std::vector<std::vector<double>> ranks;       // [rule][milestone quantity]
};

struct MilestoneStudy {
  MilestoneOptions options;
  std::vector<MilestoneRun> runs;
  std::vector<RunAnalysis> analyses;
  std::vector<Agreement> agreement;  // per rule
};

// Analyses measured runs (plain numbers: no network).
MilestoneStudy analyze_milestones(std::vector<MilestoneRun> runs, const MilestoneOptions& options);

// The milestone quantities' names, in order (the columns of RunAnalysis::crossings).
std::vector<std::string> milestone_names();

std::string milestones_csv(const MilestoneStudy& study);
std::string milestones_json(const MilestoneStudy& study);
// One panel per milestone quantity: each run's values normalised from step 0 (0) to the final one
// (1), the crossings marked with their intervals.
std::string milestones_svg(const MilestoneStudy& study);
// The per-run orders and W, as printed.
std::string milestones_text(const MilestoneStudy& study);

}  // namespace shardlab::analysis
