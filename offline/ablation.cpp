#include "offline/ablation.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/progress.h"
#include "core/spec.h"
#include "core/text.h"
#include "offline/dataset_maker.h"
#include "offline/offline_run.h"
#include "offline/relabel.h"

extern char** environ;

namespace shardlab {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> list(const std::string& text, const std::string& key) {
  std::vector<std::string> out;
  for (const std::string& item : split(text, ','))
    if (!item.empty()) out.push_back(item);
  if (out.empty()) throw InputError(key + ": expected a comma-separated list, got '" + text + "'");
  return out;
}

// One process of the grid: its command line, where its output goes, and the job it waits for
// (a cell waits for its task's datasets; -1: none).
struct Job {
  std::string name;
  std::vector<std::string> argv;
  std::string log;
  int after = -1;
};

pid_t spawn(const Job& job) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, job.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw Error("cannot start " + job.argv[0] + ": " + std::strerror(error));
  return pid;
}

// Runs the jobs `jobs` at a time, each once the job it waits for has succeeded (a job whose
// dependency failed is skipped); throws naming the first failure after every runnable job ended.
void run_jobs(const std::vector<Job>& queue, int jobs, const std::string& what) {
  enum class State { kWaiting, kRunning, kDone, kFailed };
  std::vector<State> state(queue.size(), State::kWaiting);
  std::map<pid_t, size_t> running;
  std::vector<std::string> failed;
  size_t ended = 0;
  Progress progress(what);
  auto status_line = [&] { return failed.empty() ? std::string() : std::to_string(failed.size()) + " failed"; };
  while (ended < queue.size()) {
    for (size_t i = 0; i < queue.size() && static_cast<int>(running.size()) < jobs; ++i) {
      if (state[i] != State::kWaiting) continue;
      const int after = queue[i].after;
      if (after >= 0 && state[after] == State::kFailed) {
        state[i] = State::kFailed;
        failed.push_back(queue[i].name + " (skipped: " + queue[after].name + " failed)");
        ++ended;
        continue;
      }
      if (after >= 0 && state[after] != State::kDone) continue;
      running[spawn(queue[i])] = i;
      state[i] = State::kRunning;
    }
    if (running.empty()) continue;  // everything left was skipped
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) throw Error(std::string("waitpid: ") + std::strerror(errno));
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    state[i] = ok ? State::kDone : State::kFailed;
    if (!ok) failed.push_back(queue[i].name + " (see " + queue[i].log + ")");
    running.erase(it);
    ++ended;
    progress.update(static_cast<int64_t>(ended), static_cast<int64_t>(queue.size()), status_line(), /*force=*/true);
  }
  progress.finish(static_cast<int64_t>(ended), static_cast<int64_t>(queue.size()), status_line());
  if (!failed.empty())
    throw Error(what + ": " + std::to_string(failed.size()) + " of " + std::to_string(queue.size()) +
                " failed, first " + failed.front());
}

struct Cell {
  std::string task, dataset, algo, reward;
  int64_t seed = 0;
  std::string name() const { return task + "-" + dataset + "-" + algo + "-" + reward + "-s" + std::to_string(seed); }
};

// A CSV cell: 6 significant digits, empty when not finite.
std::string csv_number(double v) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

double number_or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

std::string cell_text(const std::vector<double>& v) {
  std::vector<double> finite;
  for (double x : v)
    if (std::isfinite(x)) finite.push_back(x);
  if (finite.empty()) return "-";
  double mean = 0;
  for (double x : finite) mean += x;
  mean /= static_cast<double>(finite.size());
  char b[64];
  std::snprintf(b, sizeof b, "%.1f ± %.1f", mean, t_interval95(finite));
  return b;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : std::nan("");
}

// Grouped bars: one group per task-dataset row, one bar per column of the table, with the
// 95% interval as a whisker. SVG, so the labels are text a browser renders.
std::string bar_chart(const std::vector<std::string>& rows, const std::vector<std::string>& columns,
                      const std::map<std::pair<std::string, std::string>, std::vector<double>>& values) {
  const int bar = 14, gap = 30, left = 60, top = 40, height = 300;
  double lo = 0, hi = 100;
  for (const auto& [key, v] : values)
    for (double x : v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  const int group = static_cast<int>(columns.size()) * bar + gap;
  const int width = left + static_cast<int>(rows.size()) * group + 20 + 180;
  auto y_of = [&](double v) { return top + height - (v - lo) / (hi - lo) * height; };
  static const char* colors[] = {"#7f7f7f", "#bcbd22", "#1f77b4", "#aec7e8", "#9edae5",
                                 "#17becf", "#d62728", "#ff9896", "#f7b6d2", "#e377c2"};
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << top + height + 90
      << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << left
      << "' y='20' font-size='14'>Normalized score by reward label (mean, 95% interval over "
         "seeds)</text>\n";
  for (double t = std::ceil(lo / 25) * 25; t <= hi; t += 25)
    svg << "<line x1='" << left << "' x2='" << width - 190 << "' y1='" << y_of(t) << "' y2='" << y_of(t)
        << "' stroke='#ddd'/><text x='" << left - 5 << "' y='" << y_of(t) + 4 << "' text-anchor='end'>" << t
        << "</text>\n";
  svg << "<text transform='translate(15," << top + height / 2 << ") rotate(-90)' text-anchor='middle'>normalized "
      << "score</text>\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const int x0 = left + static_cast<int>(r) * group + gap / 2;
    for (size_t c = 0; c < columns.size(); ++c) {
      const auto it = values.find({rows[r], columns[c]});
      if (it == values.end()) continue;
      const double m = mean_of(it->second);
      if (!std::isfinite(m)) continue;
      std::vector<double> finite;
      for (double x : it->second)
        if (std::isfinite(x)) finite.push_back(x);
      const double half = t_interval95(finite);
      const int x = x0 + static_cast<int>(c) * bar;
      const double y = std::min(y_of(m), y_of(0)), h = std::abs(y_of(m) - y_of(0));
      svg << "<rect x='" << x << "' y='" << y << "' width='" << bar - 2 << "' height='" << h << "' fill='"
          << colors[c % 10] << "'/>\n";
      if (half > 0)
        svg << "<line x1='" << x + bar / 2 - 1 << "' x2='" << x + bar / 2 - 1 << "' y1='" << y_of(m - half) << "' y2='"
            << y_of(m + half) << "' stroke='black'/>\n";
    }
    svg << "<text x='" << x0 + group / 2 - gap / 2 << "' y='" << top + height + 15 << "' text-anchor='middle'>"
        << rows[r] << "</text>\n";
  }
  for (size_t c = 0; c < columns.size(); ++c)
    svg << "<rect x='" << width - 180 << "' y='" << top + 16 * c << "' width='10' height='10' fill='" << colors[c % 10]
        << "'/><text x='" << width - 165 << "' y='" << top + 16 * c + 9 << "'>" << columns[c] << "</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace

void AblationConfig::declare_keys(SpecSchema& s) {
  const AblationConfig d;
  s.add_string("ablate.out", d.out, "folder of the grid: datasets/, cells/, ablation.csv, .md, .svg");
  s.add_string("ablate.tasks", d.tasks, "tasks (comma-separated): bipedal_walker, lunar_lander_continuous, maze");
  s.add_string("ablate.datasets", d.datasets,
               "dataset qualities (comma-separated): random, medium, medium-replay, expert, medium-expert");
  s.add_string("ablate.algos", d.algos, "pessimistic learners (comma-separated): atac, iql");
  s.add_string("ablate.rewards", d.rewards, "reward labels (comma-separated): true, zero, random, negative");
  s.add_string("ablate.seeds", d.seeds, "seeds A:B of every cell");
  s.add_bool("ablate.bc", d.bc, "add a behaviour-cloning cell per task, dataset and seed");
  for (const std::string& task : dataset_tasks())
    s.add_string("ablate.overrides_" + task, "",
                 "spec overrides for this task's cells, 'key=value' separated by ';' (e.g. network settings)");
}

AblationConfig AblationConfig::from_spec(const Spec& spec) {
  AblationConfig c;
  c.out = spec.get_string("ablate.out");
  c.tasks = spec.get_string("ablate.tasks");
  c.datasets = spec.get_string("ablate.datasets");
  c.algos = spec.get_string("ablate.algos");
  c.rewards = spec.get_string("ablate.rewards");
  c.seeds = spec.get_string("ablate.seeds");
  c.bc = spec.get_bool("ablate.bc");
  return c;
}

double t_interval95(const std::vector<double>& v) {
  const size_t n = v.size();
  if (n < 2) return 0.0;
  // Student t quantiles t(0.975, df) for df = 1..30; the normal 1.96 beyond.
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(n);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  const double q = n - 1 <= 30 ? t[n - 2] : 1.96;
  return q * sd / std::sqrt(static_cast<double>(n));
}

std::string run_ablation(const Spec& spec, const std::string& spec_path, const std::string& self, int jobs) {
  if (jobs < 1) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  const AblationConfig c = AblationConfig::from_spec(spec);
  const auto tasks = list(c.tasks, "ablate.tasks"), datasets = list(c.datasets, "ablate.datasets");
  const auto algos = list(c.algos, "ablate.algos"), rewards = list(c.rewards, "ablate.rewards");
  for (const auto& t : tasks) expert_spec_path(t);  // InputError for an unknown task
  for (const auto& q : datasets)
    if (std::find(dataset_qualities().begin(), dataset_qualities().end(), q) == dataset_qualities().end())
      throw InputError("ablate.datasets: unknown quality '" + q + "'");
  for (const auto& r : rewards) parse_reward_label(r, "ablate.rewards");
  const auto [seed_begin, seed_end] = parse_range(c.seeds, "ablate.seeds");
  const fs::path root = c.out;
  fs::create_directories(root / "datasets");
  fs::create_directories(root / "cells");
  // The grid's resolved spec: every cell starts from it, with its own --set keys on top.
  const std::string base = (root / "spec.ini").string();
  if (fs::exists(base) && read_text_file(base) != spec.to_ini())
    std::cerr << "ablate: " << base << " differs from " << spec_path << "; finished cells keep their old results\n";
  write_text_file(base, spec.to_ini());

  // Datasets: one process per task (its datasets share one expert run); a task's cells start as
  // soon as its datasets exist, while other tasks' experts still train.
  std::vector<Job> queue;
  std::map<std::string, int> dataset_job;  // task -> index in queue
  for (const auto& task : tasks) {
    std::string missing;
    for (const auto& q : datasets)
      if (!fs::exists(root / "datasets" / (task + "-" + q + ".h5"))) missing += (missing.empty() ? "" : ",") + q;
    if (missing.empty()) continue;
    dataset_job[task] = static_cast<int>(queue.size());
    queue.push_back({"datasets of " + task,
                     {self, "dataset", "make", base, "--task", task, "--quality", missing, "--out-dir",
                      (root / "datasets").string()},
                     (root / "datasets" / (task + ".log")).string()});
  }
  const size_t dataset_jobs = queue.size();

  // Cells.
  std::vector<Cell> cells;
  for (const auto& task : tasks)
    for (const auto& q : datasets)
      for (int64_t seed = seed_begin; seed < seed_end; ++seed) {
        for (const auto& algo : algos)
          for (const auto& reward : rewards) cells.push_back({task, q, algo, reward, seed});
        if (c.bc) cells.push_back({task, q, "bc", "true", seed});
      }
  size_t finished = 0;
  for (const Cell& cell : cells) {
    const fs::path dir = root / "cells" / cell.name();
    if (fs::exists(dir / "result.json")) {
      ++finished;
      continue;
    }
    Job job{cell.name(),
            {self, "offline", base, "--out", (root / "cells").string(), "--set", "run.name=" + cell.name(), "--set",
             "offline.dataset=" + (root / "datasets" / (cell.task + "-" + cell.dataset + ".h5")).string(), "--set",
             "offline.algo=" + cell.algo, "--set", "offline.reward=" + cell.reward, "--set",
             "run.seed=" + std::to_string(cell.seed)},
            (root / "cells" / (cell.name() + ".log")).string(),
            dataset_job.count(cell.task) ? dataset_job.at(cell.task) : -1};
    for (const std::string& o : split(spec.get_string("ablate.overrides_" + cell.task), ';'))
      if (!o.empty()) job.argv.insert(job.argv.end(), {"--set", o});
    if (fs::exists(dir / "spec.ini")) job.argv.push_back("--resume");
    queue.push_back(std::move(job));
  }
  std::cerr << "ablate: " << dataset_jobs << " tasks' datasets to make (logs in " << (root / "datasets").string()
            << "); " << cells.size() << " cells, " << finished << " finished, " << queue.size() - dataset_jobs
            << " to run, " << jobs << " jobs at a time (logs in " << (root / "cells").string() << ")\n";
  if (!queue.empty()) run_jobs(queue, jobs, "ablate");

  // 3. Results.
  std::ostringstream csv;
  csv << "task,dataset,algo,reward,seed,normalized_score,mean_return,mean_length\n";
  std::map<std::pair<std::string, std::string>, std::vector<double>> table;  // (row, column) -> scores
  std::vector<std::string> rows, columns = {"behavior", "BC"};
  for (const auto& algo : algos)
    for (const auto& reward : rewards) columns.push_back(algo + " " + reward);
  if (!c.bc) columns.erase(columns.begin() + 1);
  for (const auto& task : tasks)
    for (const auto& q : datasets) {
      const std::string row = task + "-" + q;
      rows.push_back(row);
      const ExperienceReader data((root / "datasets" / (row + ".h5")).string());
      const auto& m = data.metadata();
      auto get = [&](const char* key) { return m.count(key) ? std::stod(m.at(key)) : std::nan(""); };
      table[{row, "behavior"}].push_back(
          normalized_score(get("policy_mean_return"), get("reference_random_return"), get("reference_expert_return")));
    }
  for (const Cell& cell : cells) {
    const fs::path file = root / "cells" / cell.name() / "result.json";
    const nlohmann::json j = nlohmann::json::parse(read_text_file(file.string()), nullptr, false);
    if (j.is_discarded()) throw FileError(file.string() + ": not readable JSON");
    const nlohmann::json e = j.value("evaluation", nlohmann::json());
    const double score = e.is_object() ? number_or_nan(e, "normalized_score") : std::nan("");
    csv << cell.task << "," << cell.dataset << "," << cell.algo << "," << cell.reward << "," << cell.seed << ","
        << csv_number(score) << "," << csv_number(e.is_object() ? number_or_nan(e, "mean_return") : std::nan("")) << ","
        << csv_number(e.is_object() ? number_or_nan(e, "mean_length") : std::nan("")) << "\n";
    const std::string column = cell.algo == "bc" ? "BC" : cell.algo + " " + cell.reward;
    table[{cell.task + "-" + cell.dataset, column}].push_back(score);
  }
  std::ostringstream md;
  md << "# Survival instinct: normalized scores\n\nFrom `" << spec_path
     << "`; mean ± 95% interval (Student t) over seeds " << c.seeds
     << ". Normalized score = 100 (R - R_random) / (R_expert - R_random) with the references recorded in "
     << "each dataset; behavior = the dataset's behaviour policy.\n\n| dataset |";
  for (const auto& col : columns) md << " " << col << " |";
  md << "\n|---|";
  for (size_t i = 0; i < columns.size(); ++i) md << "---|";
  md << "\n";
  for (const auto& row : rows) {
    md << "| " << row << " |";
    for (const auto& col : columns) {
      const auto it = table.find({row, col});
      md << " " << (it == table.end() ? "-" : cell_text(it->second)) << " |";
    }
    md << "\n";
  }
  write_text_file((root / "ablation.csv").string(), csv.str());
  write_text_file((root / "ablation.md").string(), md.str());
  write_text_file((root / "ablation.svg").string(), bar_chart(rows, columns, table));
  std::cout << md.str();
  return (root / "ablation.md").string();
}

}  // namespace shardlab
