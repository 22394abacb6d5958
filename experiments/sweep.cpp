#include "experiments/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "agents/evaluate.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "media/bar_chart.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;  // sweep.json keeps its keys in the order written

// A value as a piece of a folder name: letters, digits, '.', '+' and '-' kept, the rest '_'.
std::string name_piece(const std::string& value) {
  std::string out;
  for (char c : value) out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-' ? c : '_';
  return out;
}

// The part of `key` after its section ("train.learning_rate" -> "learning_rate").
std::string short_key(const std::string& key) { return key.substr(key.find('.') + 1); }

std::pair<std::string, std::string> key_value(const std::string& text, const std::string& flag) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw InputError(flag + " '" + text + "': expected key=value");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// A word the shell reads back as `text`.
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> train_argv(const SweepPlan& plan, const SweepCell& cell, const std::string& self,
                                    RankLauncher launcher, bool resume) {
  std::vector<std::string> argv;
  const bool srun = launcher == RankLauncher::kSrun && plan.nproc > 1;
  if (srun) {
    argv = {"srun", "--ntasks=" + std::to_string(plan.nproc), "--kill-on-bad-exit=1"};
    // Slurm 22.05 to 23.02 do not hand the batch job's --cpus-per-task on to srun.
    if (const char* cpus = std::getenv("SLURM_CPUS_PER_TASK")) argv.push_back(std::string("--cpus-per-task=") + cpus);
  }
  argv.insert(argv.end(), {self, "train", plan.spec_path(), "--out", plan.dir + "/runs", "--set",
                           "run.seed=" + std::to_string(cell.seed)});
  for (const auto& [key, value] : cell.values) argv.insert(argv.end(), {"--set", key + "=" + value});
  argv.insert(argv.end(), {"--set", "run.name=" + cell.name});
  if (plan.nproc > 1 && !srun) argv.insert(argv.end(), {"--nproc", std::to_string(plan.nproc)});
  if (resume) argv.push_back("--resume");
  return argv;
}

std::vector<std::string> eval_argv(const SweepPlan& plan, const SweepCell& cell, const std::string& self) {
  std::vector<std::string> argv = {self, "eval", plan.run_dir(cell), "--episodes", std::to_string(plan.episodes)};
  if (plan.greedy) argv.push_back("--greedy");
  for (const std::string& s : plan.eval_sets) argv.insert(argv.end(), {"--set", s});
  argv.insert(argv.end(), {"--out", plan.eval_path(cell)});
  return argv;
}

Json plan_json(const SweepPlan& plan) {
  Json j;
  j["shardlab_version"] = SHARDLAB_VERSION;
  j["command"] = plan.command;
  j["spec"] = "spec.ini";
  j["seeds"] = plan.seeds;
  j["grid"] = Json::array();
  for (const GridAxis& axis : plan.grid) j["grid"].push_back({{"key", axis.key}, {"values", axis.values}});
  j["nproc"] = plan.nproc;
  j["eval"] = {{"episodes", plan.episodes}, {"greedy", plan.greedy}, {"set", plan.eval_sets}};
  j["cells"] = Json::array();
  for (size_t i = 0; i < plan.cells.size(); ++i) {
    const SweepCell& cell = plan.cells[i];
    Json values = Json::object();
    for (const auto& [key, value] : cell.values) values[key] = value;
    // The commands are for reading; `sweep cell` rebuilds them (adding --resume where needed).
    j["cells"].push_back({{"index", i},
                          {"name", cell.name},
                          {"seed", cell.seed},
                          {"values", values},
                          {"train", train_argv(plan, cell, "shardlab", RankLauncher::kLocal, false)},
                          {"eval", eval_argv(plan, cell, "shardlab")}});
  }
  return j;
}

}  // namespace

std::map<std::string, double> eval_metrics(const std::string& path) {
  const nlohmann::json j = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw FileError(path + ": not readable JSON");
  std::map<std::string, double> out;
  for (const auto& [key, value] : j.items()) {
    const bool wanted = key == "mean_return" || key == "mean_length" || (key.size() > 5 && ends_with(key, "_rate"));
    if (wanted) out[key] = value.is_number() ? value.get<double>() : std::nan("");
  }
  return out;
}

namespace {

// The progress line's note when a cell's process ends: "<cell> trained", "<cell> evaluated: mean
// return R", "<cell> train failed".
std::string job_note(const ProcessJob& job, bool ok) {
  if (!ok) return job.name + " failed";
  const bool eval = job.argv.size() > 1 && job.argv[1] == "eval";
  const std::string cell = job.name.substr(0, job.name.rfind(' '));
  if (!eval) return cell + " trained";
  const auto metrics = eval_metrics(job.argv.back());  // eval's --out comes last
  const auto it = metrics.find("mean_return");
  return cell + " evaluated" + (it == metrics.end() ? "" : ": mean return " + csv_number(it->second));
}

}  // namespace

std::string SweepCell::point() const {
  if (values.empty()) return "all";
  std::string out;
  for (const auto& [key, value] : values) out += (out.empty() ? "" : " ") + key + "=" + value;
  return out;
}

GridAxis parse_grid_flag(const std::string& text) {
  const auto [key, list] = key_value(text, "--grid");
  GridAxis axis{key, {}};
  const char separator = list.find(';') != std::string::npos ? ';' : ',';
  for (const std::string& value : split(list, separator)) {
    if (value.empty()) throw InputError("--grid '" + text + "': expected key=value1,value2,... without empty values");
    if (std::find(axis.values.begin(), axis.values.end(), value) != axis.values.end())
      throw InputError("--grid '" + text + "': value '" + value + "' given twice");
    axis.values.push_back(value);
  }
  return axis;
}

std::vector<SweepCell> sweep_cells(int64_t seed_begin, int64_t seed_end, const std::vector<GridAxis>& grid) {
  // Folder names use the short key unless two grid keys share it (train.x and ppo.x).
  std::vector<std::string> labels;
  for (const GridAxis& axis : grid) {
    int same = 0;
    for (const GridAxis& other : grid) same += short_key(other.key) == short_key(axis.key);
    labels.push_back(same > 1 ? axis.key : short_key(axis.key));
  }
  std::vector<std::vector<std::pair<std::string, std::string>>> points = {{}};
  for (const GridAxis& axis : grid) {
    std::vector<std::vector<std::pair<std::string, std::string>>> next;
    for (const auto& point : points)
      for (const std::string& value : axis.values) {
        next.push_back(point);
        next.back().emplace_back(axis.key, value);
      }
    points = std::move(next);
  }
  std::vector<SweepCell> cells;
  std::map<std::string, std::string> seen;  // name -> point
  for (int64_t seed = seed_begin; seed < seed_end; ++seed)
    for (const auto& point : points) {
      SweepCell cell{"", seed, point};
      for (size_t i = 0; i < point.size(); ++i) cell.name += labels[i] + "_" + name_piece(point[i].second) + "-";
      cell.name += "s" + std::to_string(seed);
      const auto [it, fresh] = seen.emplace(cell.name, cell.point());
      if (!fresh)
        throw InputError("--grid: the values '" + it->second + "' and '" + cell.point() + "' give the same run name " +
                         cell.name + " (a folder name keeps only letters, digits, '.', '+' and '-')");
      cells.push_back(std::move(cell));
    }
  return cells;
}

SweepPlan prepare_sweep(const SweepRequest& request) {
  const SpecSchema& schema = shardlab_schema();
  std::set<std::string> set_keys;
  for (const std::string& s : request.sets) {
    const std::string key = key_value(s, "--set").first;
    if (key == "run.seed") throw InputError("--set run.seed: a sweep's seeds come from --seeds");
    if (key == "run.name") throw InputError("--set run.name: a sweep names each cell's run itself");
    set_keys.insert(key);
  }
  const Spec base = Spec::load(schema, request.spec, request.sets);
  SweepPlan plan;
  plan.dir = fs::absolute(request.out).lexically_normal().string();
  while (plan.dir.size() > 1 && plan.dir.back() == '/') plan.dir.pop_back();
  plan.command = request.command;
  const auto [seed_begin, seed_end] = parse_range(request.seeds, "--seeds");
  plan.seeds = std::to_string(seed_begin) + ":" + std::to_string(seed_end);
  std::set<std::string> grid_keys;
  for (const std::string& flag : request.grid) {
    GridAxis axis = parse_grid_flag(flag);
    if (axis.key == "run.seed") throw InputError("--grid run.seed: give seeds with --seeds A:B");
    if (axis.key == "run.name") throw InputError("--grid run.name: a sweep names each cell's run itself");
    if (!grid_keys.insert(axis.key).second) throw InputError("--grid " + axis.key + ": key given in two --grid flags");
    if (set_keys.count(axis.key))
      throw InputError("--grid " + axis.key + ": key also given with --set; give it in one place");
    for (const std::string& value : axis.values) {
      Spec check = base;
      check.set(axis.key, value, "--grid " + axis.key + "=" + value);
    }
    plan.grid.push_back(std::move(axis));
  }
  plan.cells = sweep_cells(seed_begin, seed_end, plan.grid);
  plan.nproc = request.nproc;
  plan.episodes = request.episodes > 0 ? request.episodes : base.get_int("eval.episodes");
  plan.greedy = request.greedy || base.get_bool("eval.greedy");
  plan.eval_sets = request.eval_sets;
  check_policy_overrides(plan.eval_sets, "--eval-set");
  for (const std::string& s : plan.eval_sets) {
    Spec check = base;
    const auto [key, value] = key_value(s, "--eval-set");
    check.set(key, value, "--eval-set " + s);
  }

  std::error_code error;
  fs::create_directories(plan.dir + "/runs", error);
  if (!error) fs::create_directories(plan.dir + "/logs", error);
  if (error) throw FileError(plan.dir + ": cannot create the sweep folder: " + error.message());
  plan.lock = std::make_shared<FolderLock>(plan.dir, "a sweep");

  // A folder that holds a sweep keeps its spec and eval settings: its finished cells were made
  // with them, and would otherwise be summarized next to cells made differently.
  if (fs::exists(plan.spec_path())) {
    const Spec saved = Spec::load(schema, plan.spec_path(), {});
    const std::string diff = base.difference_from(saved);
    if (!diff.empty())
      throw InputError(plan.dir + " holds a sweep of a different spec (" + diff +
                       "); choose another --out to sweep this one");
  }
  if (fs::exists(plan.dir + "/sweep.json")) {
    const SweepPlan old = read_sweep(plan.dir);
    if (old.episodes != plan.episodes || old.greedy != plan.greedy || old.eval_sets != plan.eval_sets)
      throw InputError(plan.dir + " holds a sweep evaluated with other eval settings (--episodes " +
                       std::to_string(old.episodes) + (old.greedy ? " --greedy" : "") +
                       (old.eval_sets.empty() ? "" : " --eval-set ...") + "); choose another --out or the same flags");
  }
  if (!fs::exists(plan.spec_path())) write_text_file(plan.spec_path(), base.to_ini());
  write_text_file(plan.dir + "/sweep.json", plan_json(plan).dump(2) + "\n");
  return plan;
}

SweepPlan read_sweep(const std::string& dir_text) {
  const std::string dir = fs::absolute(dir_text).lexically_normal().string();
  const std::string path = (fs::path(dir) / "sweep.json").string();
  if (!fs::is_regular_file(path)) throw FileError(dir_text + ": not a sweep folder (no sweep.json)");
  SweepPlan plan;
  plan.dir = fs::path(path).parent_path().string();
  try {
    const nlohmann::json j = nlohmann::json::parse(read_text_file(path));
    plan.command = j.at("command").get<std::vector<std::string>>();
    plan.seeds = j.at("seeds").get<std::string>();
    for (const auto& axis : j.at("grid"))
      plan.grid.push_back({axis.at("key").get<std::string>(), axis.at("values").get<std::vector<std::string>>()});
    plan.nproc = j.at("nproc").get<int64_t>();
    plan.episodes = j.at("eval").at("episodes").get<int64_t>();
    plan.greedy = j.at("eval").at("greedy").get<bool>();
    plan.eval_sets = j.at("eval").at("set").get<std::vector<std::string>>();
    for (const auto& c : j.at("cells")) {
      SweepCell cell{c.at("name").get<std::string>(), c.at("seed").get<int64_t>(), {}};
      // The values in --grid order (nlohmann::json reads objects sorted by key).
      for (const GridAxis& axis : plan.grid)
        cell.values.emplace_back(axis.key, c.at("values").at(axis.key).get<std::string>());
      plan.cells.push_back(std::move(cell));
    }
  } catch (const nlohmann::json::exception& e) {
    throw FileError(path + ": not a sweep description (" + e.what() + ")");
  }
  return plan;
}

bool cell_finished(const SweepPlan& plan, const SweepCell& cell) { return fs::exists(plan.eval_path(cell)); }

std::vector<ProcessJob> cell_jobs(const SweepPlan& plan, const SweepCell& cell, const std::string& self,
                                  RankLauncher launcher) {
  if (cell_finished(plan, cell)) return {};
  const fs::path run = plan.run_dir(cell);
  const bool resume = fs::exists(run / "spec.ini");
  if (!resume && fs::exists(run)) {
    // Killed before its spec was written: only empty folders are there. Anything else stays, and
    // train refuses the folder, naming it.
    std::error_code ignored;
    fs::remove(run / "checkpoints", ignored);
    fs::remove(run, ignored);
  }
  const std::string log = plan.log_path(cell);
  return {{cell.name + " train", train_argv(plan, cell, self, launcher, resume), log, -1},
          {cell.name + " eval", eval_argv(plan, cell, self), log, 0}};
}

void run_sweep(const SweepPlan& plan, const std::string& self, int jobs) {
  if (jobs < 0) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  const Spec spec = Spec::load(shardlab_schema(), plan.spec_path(), {});
  int64_t threads = spec.get_int("run.threads");
  for (const GridAxis& axis : plan.grid)
    if (axis.key == "run.threads")
      for (const std::string& v : axis.values) threads = std::max(threads, parse_integer(v).value_or(1));
  std::vector<ProcessJob> queue;
  size_t finished = 0, resumed = 0;
  for (const SweepCell& cell : plan.cells) {
    if (cell_finished(plan, cell)) {
      ++finished;
      continue;
    }
    resumed += fs::exists(plan.run_dir(cell) + "/spec.ini");
    const int offset = static_cast<int>(queue.size());
    for (ProcessJob job : cell_jobs(plan, cell, self, RankLauncher::kLocal)) {
      if (job.after >= 0) job.after += offset;
      queue.push_back(std::move(job));
    }
  }
  size_t points = 1;
  for (const GridAxis& axis : plan.grid) points *= axis.values.size();
  const unsigned cores = std::thread::hardware_concurrency();
  if (jobs == 0) jobs = static_cast<int>(std::max<int64_t>(1, static_cast<int64_t>(cores) / (plan.nproc * threads)));
  std::cerr << "sweep: " << plan.cells.size() << " cells (" << points << " grid points x seeds " << plan.seeds << "), "
            << finished << " finished, " << resumed << " to resume, " << plan.cells.size() - finished - resumed
            << " to start (a train and an eval process each); " << jobs << " processes at a time; logs in " << plan.dir
            << "/logs\n";
  const int64_t busy =
      std::min<int64_t>(jobs, static_cast<int64_t>(plan.cells.size() - finished)) * plan.nproc * threads;
  if (cores > 0 && busy > static_cast<int64_t>(cores))
    std::cerr << "sweep: warning: up to " << busy << " threads (--jobs x --nproc x run.threads) on " << cores
              << " cores; cells will slow each other down\n";
  if (!queue.empty()) run_process_pool(queue, jobs, "sweep", [&](size_t i, bool ok) { return job_note(queue[i], ok); });
  std::cout << summarize_sweep(plan.dir, "mean_return");
}

void run_sweep_cell(const std::string& dir, int64_t index, const std::string& self) {
  const SweepPlan plan = read_sweep(dir);
  if (index < 0 || index >= static_cast<int64_t>(plan.cells.size()))
    throw InputError("sweep cell " + std::to_string(index) + ": expected an index 0.." +
                     std::to_string(plan.cells.size() - 1) + " (" + plan.dir + "/sweep.json has " +
                     std::to_string(plan.cells.size()) + " cells)");
  const SweepCell& cell = plan.cells[static_cast<size_t>(index)];
  const std::string what = "sweep cell " + std::to_string(index) + " (" + cell.name + ")";
  if (cell_finished(plan, cell)) {
    std::cerr << what << ": finished already (" << plan.eval_path(cell) << ")\n";
    return;
  }
  const bool resume = fs::exists(plan.run_dir(cell) + "/spec.ini");
  const RankLauncher launcher = std::getenv("SLURM_JOB_ID") ? RankLauncher::kSrun : RankLauncher::kLocal;
  std::cerr << what << ": " << (resume ? "resuming" : "starting") << " its training"
            << (plan.nproc > 1 ? " on " + std::to_string(plan.nproc) + " ranks" : std::string())
            << ", then its eval; log " << plan.log_path(cell) << "\n";
  const std::vector<ProcessJob> jobs = cell_jobs(plan, cell, self, launcher);
  run_process_pool(jobs, 1, what, [&](size_t i, bool ok) { return job_note(jobs[i], ok); });
  std::cout << plan.eval_path(cell) << "\n";
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
    if (e.rfind("--", 0) != 0 || e.find('\n') != std::string::npos || e.find("--array") == 0)
      throw InputError("--sbatch '" + e + "': expected one sbatch option such as --partition=cpu (not --array)");
  // #SBATCH lines are not read by a shell: a path there cannot be quoted, and '%' is a pattern.
  const std::string dir = fs::absolute(dir_text).lexically_normal().string();
  if (dir.find_first_of(" \t%'\"\\") != std::string::npos)
    throw InputError("--emit slurm: the sweep folder " + dir +
                     " holds a space, quote, backslash or '%', which #SBATCH lines cannot carry; choose another --out");
}

std::string emit_slurm(const SweepPlan& plan, const SlurmOptions& options, const std::string& self) {
  check_slurm_options(options, plan.dir);
  const int64_t cpus = options.cpus_per_task > 0
                           ? options.cpus_per_task
                           : Spec::load(shardlab_schema(), plan.spec_path(), {}).get_int("run.threads");
  const std::string path = plan.dir + "/sweep.sbatch";
  const std::string dir = plan.dir;
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# A shardlab sweep as a SLURM job array: array task i trains cell i of " << dir << "/sweep.json\n"
    << "# and evaluates it (`shardlab sweep cell DIR i`); a finished cell is skipped and a started one\n"
    << "# resumes from its checkpoint, so resubmitting the script continues the sweep.\n"
    << "#   submit:     sbatch " << path << "\n"
    << "#   afterwards: " << self << " sweep summarize " << dir << "\n"
    << "#SBATCH --job-name=sweep-" << name_piece(fs::path(dir).filename().string()) << "\n"
    << "#SBATCH --array=0-" << plan.cells.size() - 1
    << (options.max_running > 0 ? "%" + std::to_string(options.max_running) : std::string()) << "\n"
    << "#SBATCH --ntasks=" << plan.nproc << "\n"
    << "#SBATCH --cpus-per-task=" << cpus << "\n";
  if (!options.time.empty()) s << "#SBATCH --time=" << options.time << "\n";
  if (!options.mem.empty()) s << "#SBATCH --mem=" << options.mem << "\n";
  for (const std::string& e : options.extra) s << "#SBATCH " << e << "\n";
  s << "#SBATCH --output=" << dir << "/logs/slurm-%A_%a.out\n"
    << "set -eu\n";
  if (plan.nproc > 1)
    s << "# " << plan.nproc << " ranks: `srun " << self
      << " train ...` (ranks from SLURM's variables), then one eval.\n";
  s << "exec " << shell_quoted(self) << " sweep cell " << shell_quoted(dir) << " \"$SLURM_ARRAY_TASK_ID\"\n";
  write_text_file(path, s.str());
  return path;
}

}  // namespace shardlab
