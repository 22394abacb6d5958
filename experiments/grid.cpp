#include "experiments/grid.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;  // grid.json keeps its keys in the order written

// A step's command line as run: this executable for "shardlab", --resume for a started run, its
// ranks through --nproc here or an srun step under SLURM.
std::vector<std::string> step_argv(const GridStep& step, const std::string& self, RankLauncher launcher) {
  std::vector<std::string> argv;
  const bool srun = launcher == RankLauncher::kSrun && step.ranks > 1;
  if (srun) {
    argv = {"srun", "--ntasks=" + std::to_string(step.ranks), "--kill-on-bad-exit=1"};
    // Slurm 22.05 to 23.02 do not hand the batch job's --cpus-per-task on to srun.
    if (const char* cpus = std::getenv("SLURM_CPUS_PER_TASK")) argv.push_back(std::string("--cpus-per-task=") + cpus);
  }
  for (size_t i = 0; i < step.argv.size(); ++i)
    argv.push_back(i == 0 && step.argv[0] == "shardlab" ? self : step.argv[i]);
  if (step.ranks > 1 && !srun) argv.insert(argv.end(), {"--nproc", std::to_string(step.ranks)});
  if (!step.run_dir.empty() && fs::exists(fs::path(step.run_dir) / "spec.ini")) argv.push_back("--resume");
  return argv;
}

const GridStage& find_stage(const Grid& grid, const std::string& name) {
  for (const GridStage& stage : grid.stages)
    if (stage.name == name) return stage;
  std::vector<std::string> names;
  for (const GridStage& stage : grid.stages) names.push_back(stage.name);
  throw InputError("grid cell: no stage '" + name + "' in " + grid.dir +
                   "/grid.json (its stages: " + join(names, ", ") + ")");
}

}  // namespace

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool cell_finished(const GridCell& cell) {
  for (const std::string& output : cell.outputs)
    if (!fs::exists(output)) return false;
  return !cell.outputs.empty();
}

std::vector<ProcessJob> cell_processes(const Grid& grid, const GridCell& cell, const std::string& self,
                                       RankLauncher launcher) {
  if (cell_finished(cell)) return {};
  std::vector<ProcessJob> jobs;
  for (const GridStep& step : cell.steps) {
    const fs::path run = step.run_dir;
    if (!run.empty() && !fs::exists(run / "spec.ini") && fs::exists(run)) {
      // Killed before its spec was written: only empty folders are there. Anything else stays, and
      // the step refuses the folder, naming it.
      std::error_code ignored;
      fs::remove(run / "checkpoints", ignored);
      fs::remove(run, ignored);
    }
    // A cell of several steps names each by its command ("s0 train", "s0 eval").
    const std::string name = cell.steps.size() > 1 && step.argv.size() > 1 ? cell.name + " " + step.argv[1] : cell.name;
    jobs.push_back({name, step_argv(step, self, launcher), grid.log_path(cell),
                    jobs.empty() ? -1 : static_cast<int>(jobs.size()) - 1});
  }
  return jobs;
}

void write_grid(const Grid& grid) {
  Json j;
  j["shardlab_version"] = SHARDLAB_VERSION;
  j["kind"] = grid.kind;
  j["threads"] = grid.threads;
  j["stages"] = Json::array();
  for (const GridStage& stage : grid.stages) {
    Json cells = Json::array();
    for (size_t i = 0; i < stage.cells.size(); ++i) {
      const GridCell& cell = stage.cells[i];
      Json steps = Json::array();
      for (const GridStep& step : cell.steps)
        steps.push_back({{"argv", step.argv}, {"run_dir", step.run_dir}, {"ranks", step.ranks}});
      cells.push_back(
          {{"index", i}, {"name", cell.name}, {"steps", steps}, {"outputs", cell.outputs}, {"needs", cell.needs}});
    }
    j["stages"].push_back({{"name", stage.name}, {"cells", cells}});
  }
  std::error_code error;
  fs::create_directories(grid.dir + "/logs", error);  // a training step makes its own run folder
  if (error) throw FileError(grid.dir + ": cannot create the grid's logs folder: " + error.message());
  write_text_file(grid.dir + "/grid.json", j.dump(2) + "\n");
}

Grid read_grid(const std::string& dir_text) {
  const std::string dir = fs::absolute(dir_text).lexically_normal().string();
  const std::string path = (fs::path(dir) / "grid.json").string();
  if (!fs::is_regular_file(path)) throw FileError(dir_text + ": not a grid folder (no grid.json)");
  Grid grid;
  grid.dir = fs::path(path).parent_path().string();
  try {
    const nlohmann::json j = nlohmann::json::parse(read_text_file(path));
    grid.kind = j.at("kind").get<std::string>();
    grid.threads = j.at("threads").get<int64_t>();
    for (const auto& s : j.at("stages")) {
      GridStage stage{s.at("name").get<std::string>(), {}};
      for (const auto& c : s.at("cells")) {
        GridCell cell{c.at("name").get<std::string>(),
                      {},
                      c.at("outputs").get<std::vector<std::string>>(),
                      c.at("needs").get<int64_t>()};
        for (const auto& step : c.at("steps"))
          cell.steps.push_back({step.at("argv").get<std::vector<std::string>>(), step.at("run_dir").get<std::string>(),
                                step.at("ranks").get<int64_t>()});
        stage.cells.push_back(std::move(cell));
      }
      grid.stages.push_back(std::move(stage));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path + ": not a grid description (" + e.what() + ")");
  }
  return grid;
}

CellState cell_state(const Grid& grid, const GridCell& cell) {
  if (cell_finished(cell)) return CellState::kFinished;
  return fs::exists(grid.log_path(cell)) ? CellState::kUnfinished : CellState::kNotStarted;
}

const char* cell_state_name(CellState state) {
  switch (state) {
    case CellState::kFinished:
      return "finished";
    case CellState::kUnfinished:
      return "started, not finished";
    case CellState::kNotStarted:
      return "not started";
  }
  return "";
}

GridStatus grid_status(const Grid& grid) {
  GridStatus status;
  for (const GridStage& stage : grid.stages)
    for (const GridCell& cell : stage.cells) {
      if (cell.outputs.empty()) continue;
      ++status.cells;
      const CellState state = cell_state(grid, cell);
      (state == CellState::kFinished     ? status.finished
       : state == CellState::kUnfinished ? status.unfinished
                                         : status.not_started)
          .push_back(cell.name);
    }
  return status;
}

std::string GridStatus::text(const Grid& grid) const {
  std::string out = std::to_string(finished.size()) + " of " + std::to_string(cells) + " cells finished";
  if (!unfinished.empty())
    out += "; started but not finished (failed or interrupted; see " + grid.dir + "/logs): " + join(unfinished, ", ");
  if (!not_started.empty()) out += "; not started: " + join(not_started, ", ");
  return out;
}

void run_grid(const Grid& grid, const std::string& self, int jobs, const std::string& what,
              const std::function<std::string(const ProcessJob&, bool)>& note) {
  if (jobs < 1) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  // Batches of stages, each batch one process pool after the one before has succeeded: a stage
  // whose cells each wait for one cell of the previous stage joins that stage's batch.
  std::vector<std::vector<ProcessJob>> batches;
  std::vector<int> last_job_of_previous_stage;
  for (const GridStage& stage : grid.stages) {
    bool joins = !batches.empty() && !stage.cells.empty();
    for (const GridCell& cell : stage.cells) joins = joins && cell.needs >= 0;
    if (!joins) batches.emplace_back();
    std::vector<ProcessJob>& queue = batches.back();
    std::vector<int> last_job_of_this_stage(stage.cells.size(), -1);
    for (size_t i = 0; i < stage.cells.size(); ++i) {
      const GridCell& cell = stage.cells[i];
      const int offset = static_cast<int>(queue.size());
      const std::vector<ProcessJob> processes = cell_processes(grid, cell, self, RankLauncher::kLocal);
      for (ProcessJob job : processes) {
        if (job.after >= 0)
          job.after += offset;
        else if (joins && static_cast<size_t>(cell.needs) < last_job_of_previous_stage.size())
          job.after = last_job_of_previous_stage[static_cast<size_t>(cell.needs)];  // -1: that cell is finished
        queue.push_back(std::move(job));
      }
      if (!processes.empty()) last_job_of_this_stage[i] = static_cast<int>(queue.size()) - 1;
    }
    last_job_of_previous_stage = std::move(last_job_of_this_stage);
  }
  size_t processes = 0;
  for (const auto& batch : batches) processes += batch.size();
  std::cerr << what << ": " << grid_status(grid).text(grid) << "; processes to run: " << processes << ", " << jobs
            << " at a time; logs in " << grid.dir << "/logs\n";
  for (const auto& queue : batches)
    if (!queue.empty())
      run_process_pool(queue, jobs, what, [&](size_t i, bool ok) {
        return note ? note(queue[i], ok) : queue[i].name + (ok ? " done" : " failed");
      });
}

void run_grid_cell(const std::string& dir, const std::string& stage_name, int64_t index, const std::string& self) {
  const Grid grid = read_grid(dir);
  const GridStage& stage = find_stage(grid, stage_name);
  if (index < 0 || index >= static_cast<int64_t>(stage.cells.size()))
    throw InputError("grid cell " + stage_name + " " + std::to_string(index) + ": expected an index 0.." +
                     std::to_string(stage.cells.size() - 1) + " (" + grid.dir + "/grid.json has " +
                     std::to_string(stage.cells.size()) + " cells in stage " + stage_name + ")");
  const GridCell& cell = stage.cells[static_cast<size_t>(index)];
  const std::string what = grid.kind + " cell " + stage_name + " " + std::to_string(index) + " (" + cell.name + ")";
  if (cell_finished(cell)) {
    std::cerr << what << ": finished already\n";
    return;
  }
  const RankLauncher launcher = std::getenv("SLURM_JOB_ID") ? RankLauncher::kSrun : RankLauncher::kLocal;
  std::cerr << what << ": running; log " << grid.log_path(cell) << "\n";
  run_process_pool(cell_processes(grid, cell, self, launcher), 1, what);
  for (const std::string& output : cell.outputs) std::cout << output << "\n";
}

void check_slurm_options(const SlurmOptions& options, const std::string& dir_text) {
  // sbatch's formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS; memory in MB or with K/M/G/T.
  static const std::regex time_format(R"(\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE)");
  static const std::regex mem_format(R"(\d+[KMGT]?)");
  if (!options.time.empty() && !std::regex_match(options.time, time_format))
    throw InputError("--time '" + options.time +
                     "': expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (sbatch's formats)");
  if (!options.mem.empty() && !std::regex_match(options.mem, mem_format))
    throw InputError("--mem '" + options.mem + "': expected megabytes, or a number with K, M, G or T (e.g. 4G)");
  for (const std::string& e : options.extra)
    if (e.rfind("--", 0) != 0 || e.find('\n') != std::string::npos || e.find("--array") == 0 ||
        e.find("--dependency") == 0)
      throw InputError("--sbatch '" + e +
                       "': expected one sbatch option such as --partition=cpu (not --array or --dependency)");
  // #SBATCH lines are not read by a shell: a path there cannot be quoted, and '%' is a pattern.
  const std::string dir = fs::absolute(dir_text).lexically_normal().string();
  if (dir.find_first_of(" \t%'\"\\") != std::string::npos)
    throw InputError(
        "--emit slurm: the grid folder " + dir +
        " holds a space, quote, backslash or '%', which #SBATCH lines cannot carry; choose another folder");
}

std::string emit_slurm(const Grid& grid, const SlurmOptions& options, const std::string& self) {
  check_slurm_options(options, grid.dir);
  const int64_t cpus = options.cpus_per_task > 0 ? options.cpus_per_task : grid.threads;
  const std::string name = fs::path(grid.dir).filename().string();
  std::ostringstream submit;
  submit << "#!/bin/bash\n"
         << "# Submits the " << grid.kind << " grid " << grid.dir << " to SLURM: one job array per stage, each\n"
         << "# stage after the one before has succeeded (--dependency=afterok). A finished cell is skipped and a\n"
         << "# started one resumes, so running this again continues the grid. Extra arguments go to every sbatch.\n"
         << "# Prints each stage's job id; the last line is the last stage's.\n"
         << "set -eu\n"
         << "job=\n";
  for (const GridStage& stage : grid.stages) {
    int64_t ranks = 1;
    for (const GridCell& cell : stage.cells)
      for (const GridStep& step : cell.steps) ranks = std::max(ranks, step.ranks);
    const std::string path = grid.dir + "/" + stage.name + ".sbatch";
    std::ostringstream s;
    s << "#!/bin/bash\n"
      << "# Stage '" << stage.name << "' of the " << grid.kind << " grid " << grid.dir << " as a SLURM job array:\n"
      << "# array task i runs cell i of the stage (`shardlab grid cell DIR " << stage.name << " i`).\n"
      << "# Submit the whole grid with " << grid.dir << "/submit.sh.\n"
      << "#SBATCH --job-name=" << grid.kind << "-" << stage.name << "-" << name << "\n"
      << "#SBATCH --array=0-" << stage.cells.size() - 1
      << (options.max_running > 0 ? "%" + std::to_string(options.max_running) : std::string()) << "\n"
      << "#SBATCH --ntasks=" << ranks << "\n"
      << "#SBATCH --cpus-per-task=" << cpus << "\n";
    if (!options.time.empty()) s << "#SBATCH --time=" << options.time << "\n";
    if (!options.mem.empty()) s << "#SBATCH --mem=" << options.mem << "\n";
    for (const std::string& e : options.extra) s << "#SBATCH " << e << "\n";
    s << "#SBATCH --output=" << grid.dir << "/logs/slurm-" << stage.name << "-%A_%a.out\n"
      << "set -eu\n"
      << "exec " << shell_quoted(self) << " grid cell " << shell_quoted(grid.dir) << " " << stage.name
      << " \"$SLURM_ARRAY_TASK_ID\"\n";
    write_text_file(path, s.str());
    // A later stage waits for every task of the one before; it is cancelled if one of them fails.
    submit << "job=$(sbatch --parsable ${job:+--dependency=afterok:$job --kill-on-invalid-dep=yes} \"$@\" "
           << shell_quoted(path) << ")\njob=${job%%;*}\necho \"" << stage.name << ": job $job\"\n";
  }
  submit << "echo \"$job\"\n";
  const std::string path = grid.dir + "/submit.sh";
  write_text_file(path, submit.str());
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
  return path;
}

}  // namespace shardlab
