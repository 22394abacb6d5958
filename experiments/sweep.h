// `shardlab sweep`: one spec trained over seeds x the product of a grid of spec values, a grid of
// one stage (experiments/grid.h) whose every cell is a `shardlab train` process followed by its
// final `shardlab eval`, run here or as a SLURM job array. The sweep folder, beside the grid's own
// files (grid.json, runs/<cell>/, logs/<cell>.log, runs.sbatch and submit.sh):
//   DIR/spec.ini               the resolved spec (with the sweep's --set); every cell starts from it
//   DIR/sweep.json             the sweep: its command line, seeds, grid, eval settings and cells
//   DIR/runs/<cell>/eval.json  a finished cell's evaluation
//   DIR/summary.csv, .md, .svg mean and 95% interval over seeds per grid point, cells.csv one row
//                              per cell (`sweep summarize`, experiments/grid_summary.h)
// A cell with eval.json is finished and never rerun; a cell whose run folder has started resumes
// from its checkpoint (`train --resume`), then evaluates.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/folder_lock.h"
#include "experiments/grid.h"

namespace shardlab {

class Spec;

// One --grid flag: a spec key and the values it takes.
struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};

// "key=v1,v2,..." (or "key=v1;v2" when the values hold commas, as agent.channels=8,16,16;16,32,32).
// InputError naming the flag for a missing '=', an empty or repeated value.
GridAxis parse_grid_flag(const std::string& text);

struct SweepCell {
  std::string name;  // run folder name: "<key>_<value>-...-s<seed>", e.g. "learning_rate_0.001-s3"
  int64_t seed = 0;
  std::vector<std::pair<std::string, std::string>> values;  // (grid key, value), in --grid order
  // The grid point without the seed ("learning_rate=0.001 clip_coef=0.1"; "all" without a grid).
  std::string point() const;
};

// Every cell: seeds outermost (so a sweep extended to more seeds keeps its cells' indices), then
// the grid's product with the first --grid flag varying slowest. InputError when two cells would
// get the same folder name.
std::vector<SweepCell> sweep_cells(int64_t seed_begin, int64_t seed_end, const std::vector<GridAxis>& grid);

struct SweepPlan {
  std::string dir;                   // absolute
  std::vector<std::string> command;  // the sweep's command line, as given
  std::string seeds;                 // "A:B"
  std::vector<GridAxis> grid;
  int64_t nproc = 1;  // ranks of each cell's training (data-parallel when > 1)
  int64_t episodes = 0;
  bool greedy = false;
  std::vector<std::string> eval_sets;  // --set of each cell's eval
  std::vector<SweepCell> cells;
  // prepare_sweep's: the sweep folder's lock, held while the plan (or a copy) lives.
  std::shared_ptr<FolderLock> lock;

  std::string spec_path() const { return dir + "/spec.ini"; }
  std::string run_dir(const SweepCell& cell) const { return dir + "/runs/" + cell.name; }
  std::string eval_path(const SweepCell& cell) const { return run_dir(cell) + "/eval.json"; }
  std::string log_path(const SweepCell& cell) const { return dir + "/logs/" + cell.name + ".log"; }
};

// What the command line gives a sweep.
struct SweepRequest {
  std::string spec;               // SPEC
  std::vector<std::string> sets;  // --set of every cell
  std::string seeds;              // --seeds A:B
  std::vector<std::string> grid;  // --grid flags
  int64_t nproc = 1;
  int64_t episodes = 0;  // 0: the spec's eval.episodes
  bool greedy = false;   // or the spec's eval.greedy
  std::vector<std::string> eval_sets;
  std::string out;
  std::vector<std::string> command;
};

// Resolves the spec and every cell's keys (an unknown key or a bad value is InputError naming the
// flag) and writes DIR/spec.ini, DIR/sweep.json, DIR/runs/ and DIR/logs/. A DIR that already holds
// a sweep must have the same resolved spec and eval settings (its finished cells are reused); its
// cells may differ (more seeds, more grid values).
SweepPlan prepare_sweep(const SweepRequest& request);

// The sweep written in DIR/sweep.json; FileError when there is none or it is unreadable.
SweepPlan read_sweep(const std::string& dir);

bool cell_finished(const SweepPlan& plan, const SweepCell& cell);

// The numbers of a cell's eval.json a summary reports: mean return and length, and every
// *_rate. FileError if the file is not readable JSON.
std::map<std::string, double> eval_metrics(const std::string& path);

// The sweep as a grid of one stage, "runs": cell i trains and evaluates plan.cells[i].
Grid sweep_grid(const SweepPlan& plan);

// Runs every unfinished cell, `jobs` processes at a time (0: as many cells as the cores hold at
// --nproc x run.threads each), then writes the summary. Progress on stderr; Error naming the first
// failed cell and its log.
void run_sweep(const SweepPlan& plan, const std::string& self, int jobs);

// Reads every finished cell's eval.json and writes DIR/summary.csv, .md and .svg (the chart of
// `metric`, e.g. mean_return or cheese_rate). Returns the Markdown table. Unfinished cells are
// listed as missing.
std::string summarize_sweep(const std::string& dir, const std::string& metric);

}  // namespace shardlab
