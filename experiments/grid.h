// The one grid runner of `sweep` and `ablate`. A grid is stages of cells; each cell is a few
// processes run in order (train then eval; make a task's datasets), and is finished once its
// output files exist, so a rerun or a resubmission skips it. A grid folder DIR holds:
//   DIR/grid.json          the stages and their cells: names, commands, outputs
//   DIR/runs/<cell>/       each training cell's run folder (resumed from its checkpoint)
//   DIR/logs/<cell>.log    each cell's processes' output (SLURM: also slurm-<stage>-<job>_<task>.out)
//   DIR/<stage>.sbatch     with --emit slurm: one job array per stage, and DIR/submit.sh, which
//                          submits them, each later stage after the one before has succeeded
// Here the cells run through the process pool (core/process_pool.h), a cell as soon as the cell
// of the earlier stage it needs has finished; on a cluster, as SLURM array tasks (`grid cell`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/process_pool.h"

namespace shardlab {

struct GridStep {
  std::vector<std::string> argv;  // argv[0] "shardlab" stands for this executable
  std::string run_dir;            // a training step's run folder: --resume once it has started
  int64_t ranks = 1;              // data-parallel ranks: --nproc here, an srun step under SLURM
};

struct GridCell {
  std::string name;                  // unique in the grid: its log's and run folder's name
  std::vector<GridStep> steps;       // run in order, each after the one before succeeded
  std::vector<std::string> outputs;  // files that exist once the cell is finished; none: a cell
                                     // that runs every time (the summary), not counted as a result
  int64_t needs = -1;                // the cell of the previous stage it waits for here; -1: the
                                     // whole previous stage (a SLURM stage always waits for that)
};

struct GridStage {
  std::string name;  // a word: "datasets", "runs"
  std::vector<GridCell> cells;
};

struct Grid {
  std::string dir;      // absolute
  std::string kind;     // the command that made it: "sweep", "ablate"
  int64_t threads = 1;  // each process's run.threads (SLURM's --cpus-per-task)
  std::vector<GridStage> stages;
  std::string log_path(const GridCell& cell) const { return dir + "/logs/" + cell.name + ".log"; }
};

// How a data-parallel step's ranks start: `train --nproc R` on this machine, or `srun` inside a
// SLURM allocation (train then reads SLURM's variables).
enum class RankLauncher { kLocal, kSrun };

bool cell_finished(const GridCell& cell);
// The processes of an unfinished cell, each after the one before; none when it is finished. A run
// folder that has started resumes; one killed before its spec was written is removed when empty.
std::vector<ProcessJob> cell_processes(const Grid& grid, const GridCell& cell, const std::string& self,
                                       RankLauncher launcher);

// Writes DIR/grid.json and creates DIR/logs (each training step makes its own run folder).
void write_grid(const Grid& grid);
// The grid of DIR/grid.json; FileError when there is none or it is unreadable.
Grid read_grid(const std::string& dir);

// A cell as its folder shows it: finished (its outputs exist), started but not finished (its log
// exists: failed or interrupted), or not started.
enum class CellState { kFinished, kUnfinished, kNotStarted };
CellState cell_state(const Grid& grid, const GridCell& cell);
const char* cell_state_name(CellState state);  // "finished", "started, not finished", "not started"

// What a grid's folder shows of its cells (those with outputs): finished, started but not finished (failed or
// interrupted: its log says which), never started.
struct GridStatus {
  int64_t cells = 0;
  std::vector<std::string> finished, unfinished, not_started;
  // "N of M cells finished; unfinished: a, b (see DIR/logs); not started: c".
  std::string text(const Grid& grid) const;
};
GridStatus grid_status(const Grid& grid);

// Runs every unfinished cell here, `jobs` processes at a time; progress on stderr, `note(job, ok)`
// adding to the progress line when a process ends. Error naming the first failed cell and its log.
void run_grid(const Grid& grid, const std::string& self, int jobs, const std::string& what,
              const std::function<std::string(const ProcessJob&, bool)>& note = {});

// Runs cell `index` of stage `stage` of DIR's grid (a SLURM array task); nothing when finished.
void run_grid_cell(const std::string& dir, const std::string& stage, int64_t index, const std::string& self);

struct SlurmOptions {
  std::string time, mem;           // sbatch --time, --mem; empty: the cluster's defaults
  int64_t cpus_per_task = 0;       // per rank; 0: the grid's run.threads
  int64_t max_running = 0;         // array throttle (%N); 0: none
  std::vector<std::string> extra;  // more sbatch options, e.g. --partition=cpu
};

// InputError for a malformed --time, --mem or --sbatch option, or a grid folder `dir` that
// #SBATCH lines cannot name; called before anything is written.
void check_slurm_options(const SlurmOptions& options, const std::string& dir);

// Writes DIR/<stage>.sbatch for every stage (array task i runs `shardlab grid cell DIR STAGE i`)
// and DIR/submit.sh, which submits them in order, each later one with --dependency=afterok on
// the one before. Returns submit.sh's path.
std::string emit_slurm(const Grid& grid, const SlurmOptions& options, const std::string& self);

// A word the shell reads back as `text`.
std::string shell_quoted(const std::string& text);

}  // namespace shardlab
