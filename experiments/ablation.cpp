#include "offline/ablation.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/folder_lock.h"
#include "core/process_pool.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "envs/registry.h"
#include "media/bar_chart.h"
#include "offline/dataset_maker.h"
#include "offline/offline_run.h"
#include "offline/relabel.h"

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

double number_or_nan(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
}

struct Cell {
  std::string task, dataset, algo, reward;
  int64_t seed = 0;
  std::string name() const { return task + "-" + dataset + "-" + algo + "-" + reward + "-s" + std::to_string(seed); }
};

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

std::string run_ablation(const Spec& spec, const std::string& spec_path, const std::string& self, int jobs) {
  if (jobs < 1) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  const AblationConfig c = AblationConfig::from_spec(spec);
  const auto tasks = list(c.tasks, "ablate.tasks"), datasets = list(c.datasets, "ablate.datasets");
  const auto algos = list(c.algos, "ablate.algos"), rewards = list(c.rewards, "ablate.rewards");
  for (const auto& t : tasks) expert_spec_path(t);  // InputError for an unknown task
  for (const auto& q : datasets) check_dataset_quality(q, "ablate.datasets:");
  for (const auto& r : rewards) parse_reward_label(r, "ablate.rewards");
  // Every key a cell will be given, checked now rather than after hours of expert training.
  for (const auto& a : algos) Spec(spec).set("offline.algo", a, "ablate.algos");
  for (const auto& task : tasks) {
    const std::string key = "ablate.overrides_" + task;
    if (!spec.schema().find(key)) throw InputError("ablate.tasks: no " + key + " key for task '" + task + "'");
    for (const std::string& o : split(spec.get_string(key), ';')) {
      if (o.empty()) continue;
      const size_t eq = o.find('=');
      if (eq == std::string::npos || eq == 0) throw InputError(key + ": '" + o + "': expected KEY=VALUE");
      Spec(spec).set(o.substr(0, eq), o.substr(eq + 1), key);
    }
  }
  const auto [seed_begin, seed_end] = parse_range(c.seeds, "ablate.seeds");
  const fs::path root = c.out;
  std::error_code error;
  fs::create_directories(root / "datasets", error);
  if (!error) fs::create_directories(root / "cells", error);
  if (error) throw FileError(root.string() + ": cannot create the ablation folder: " + error.message());
  const FolderLock lock(root.string(), "an ablation");
  // The grid's resolved spec: every cell starts from it, with its own --set keys on top.
  const std::string base = (root / "spec.ini").string();
  if (fs::exists(base) && read_text_file(base) != spec.to_ini())
    std::cerr << "ablate: " << base << " differs from " << spec_path << "; finished cells keep their old results\n";
  write_text_file(base, spec.to_ini());

  // Datasets: one process per task (its datasets share one expert run); a task's cells start as
  // soon as its datasets exist, while other tasks' experts still train.
  std::vector<ProcessJob> queue;
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
    ProcessJob job{
        cell.name(),
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
  if (!queue.empty()) run_process_pool(queue, jobs, "ablate");

  // 3. Results.
  std::ostringstream csv;
  // The tasks' outcome rates (fell, landed, crashed, cheese, ...), each task's own filled in.
  std::vector<std::string> rate_columns;
  for (const auto& task : tasks)
    for (const EpisodeRate& rate : find_env(task).rates)
      if (std::find(rate_columns.begin(), rate_columns.end(), rate.name) == rate_columns.end())
        rate_columns.push_back(rate.name);
  csv << "task,dataset,algo,reward,seed,normalized_score,mean_return,mean_length";
  for (const auto& rate : rate_columns) csv << "," << rate;
  csv << "\n";
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
        << csv_number(e.is_object() ? number_or_nan(e, "mean_length") : std::nan(""));
    for (const auto& rate : rate_columns)
      csv << "," << (e.is_object() && e.contains(rate) ? csv_number(number_or_nan(e, rate.c_str())) : "");
    csv << "\n";
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
      md << " " << (it == table.end() ? "-" : mean_and_interval_text(it->second, 1)) << " |";
    }
    md << "\n";
  }
  write_text_file((root / "ablation.csv").string(), csv.str());
  write_text_file((root / "ablation.md").string(), md.str());
  BarChart chart;
  chart.title = "Normalized score by reward label (mean, 95% interval over seeds)";
  chart.x_label = "task-dataset";
  chart.y_label = "normalized score";
  chart.groups = rows;
  chart.series = columns;
  chart.colors = {"#7f7f7f", "#bcbd22", "#1f77b4", "#aec7e8", "#9edae5",
                  "#17becf", "#d62728", "#ff9896", "#f7b6d2", "#e377c2"};
  chart.samples = table;
  chart.y_max = 100;
  write_text_file((root / "ablation.svg").string(), bar_chart_svg(chart));
  std::cout << md.str();
  return (root / "ablation.md").string();
}

}  // namespace shardlab
