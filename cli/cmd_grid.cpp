// `shardlab grid`: the grid runner's own commands (experiments/grid.h), for any sweep or ablation
// folder: `grid cell DIR STAGE INDEX` runs one cell (a SLURM array task), `grid status DIR` lists
// the finished, unfinished and unstarted cells. Also the --emit slurm flags `sweep` and `ablate` share.
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"
#include "experiments/grid.h"

namespace shardlab::cli {
namespace {

constexpr const char* kGridUsage =
    "shardlab grid cell DIR STAGE INDEX | shardlab grid status DIR\n"
    "  the cells of a sweep or ablation folder (DIR/grid.json): `cell` runs cell INDEX of stage STAGE\n"
    "  (what each SLURM array task of DIR/STAGE.sbatch runs; nothing if it is finished), `status`\n"
    "  lists the finished cells, the started but unfinished ones (failed or interrupted) and the rest,\n"
    "  and exits 0 when every cell is finished, 3 when some are not";

}  // namespace

void add_slurm_flags(po::options_description& flags) {
  flags.add_options()("emit", po::value<std::string>(),
                      "slurm: write DIR/<stage>.sbatch (a job array per stage) and DIR/submit.sh instead of running")(
      "time", po::value<std::string>(), "--emit slurm: each task's time limit (sbatch --time, e.g. 2:00:00)")(
      "cpus-per-task", po::value<int64_t>(), "--emit slurm: CPUs per rank (default: the spec's run.threads)")(
      "mem", po::value<std::string>(), "--emit slurm: memory per node (sbatch --mem, e.g. 4G)")(
      "sbatch", po::value<std::vector<std::string>>()->composing(),
      "--emit slurm: another #SBATCH option, e.g. --sbatch --partition=cpu");
}

std::optional<SlurmOptions> slurm_options(const po::variables_map& vm, int64_t jobs, const std::string& dir) {
  const bool slurm = vm.count("emit") > 0;
  if (slurm && vm["emit"].as<std::string>() != "slurm")
    throw InputError("--emit " + vm["emit"].as<std::string>() + ": expected --emit slurm");
  for (const char* flag : {"time", "cpus-per-task", "mem", "sbatch"})
    if (!slurm && vm.count(flag)) throw InputError(std::string("--") + flag + " goes with --emit slurm");
  if (!slurm) return std::nullopt;
  SlurmOptions options;
  if (vm.count("time")) options.time = vm["time"].as<std::string>();
  if (vm.count("mem")) options.mem = vm["mem"].as<std::string>();
  if (vm.count("cpus-per-task")) options.cpus_per_task = flag_at_least(vm, "cpus-per-task", 1);
  if (vm.count("sbatch")) options.extra = vm["sbatch"].as<std::vector<std::string>>();
  options.max_running = jobs;
  check_slurm_options(options, dir);
  return options;
}

void emit_and_explain(const Grid& grid, const SlurmOptions& options, const std::string& summarize) {
  const std::string self = self_executable();
  const std::string script = emit_slurm(grid, options, self);
  std::cout << "wrote " << script << " and, per stage, a job array:";
  for (const GridStage& stage : grid.stages)
    std::cout << " " << grid.dir << "/" << stage.name << ".sbatch (" << stage.cells.size() << " tasks)";
  std::cout << "\nsubmit:     bash " << script << "   (again to continue: finished cells are skipped)\n"
            << "status:     " << self << " grid status " << grid.dir << "\n"
            << "afterwards: " << self << " " << summarize << "\n";
}

int cmd_grid(const std::vector<std::string>& args) {
  po::options_description flags(kGridUsage);
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "cell or status")(
      "dir", po::value<std::string>(), "the sweep or ablation folder")("stage", po::value<std::string>(),
                                                                       "the stage (cell)")(
      "index", po::value<int64_t>(), "the cell's index in its stage (0-based, as in grid.json)");
  po::positional_options_description positional;
  positional.add("action", 1).add("dir", 1).add("stage", 1).add("index", 1);
  const auto vm = parse_flags("grid", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  const std::string action = vm.count("action") ? vm["action"].as<std::string>() : "";
  if (action == "status" && vm.count("dir") && !vm.count("stage")) {
    const Grid grid = read_grid(vm["dir"].as<std::string>());
    const GridStatus status = grid_status(grid);
    std::cout << status.text(grid) << "\n";
    return status.finished.size() == static_cast<size_t>(status.cells) ? 0 : 3;
  }
  if (action == "cell" && vm.count("dir") && vm.count("stage") && vm.count("index")) {
    run_grid_cell(vm["dir"].as<std::string>(), vm["stage"].as<std::string>(), flag_at_least(vm, "index", 0),
                  self_executable());
    return 0;
  }
  throw InputError("shardlab grid: expected `grid cell DIR STAGE INDEX` or `grid status DIR`");
}

}  // namespace shardlab::cli
