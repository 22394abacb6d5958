#include "experiments/ablation.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/folder_lock.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "envs/registry.h"
#include "experiments/grid_summary.h"
#include "experiments/schema.h"
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

struct Cell {
  std::string task, dataset, algo, reward;
  int64_t seed = 0;
  std::string name() const { return task + "-" + dataset + "-" + algo + "-" + reward + "-s" + std::to_string(seed); }
};

}  // namespace

template <class Keys>
void AblationConfig::bind(Keys& keys) {
  keys("ablate.out", out, "folder of the grid: datasets/, runs/, logs/, ablation.md, .svg, .csv, cells.csv");
  keys("ablate.tasks", tasks, "tasks (comma-separated): bipedal_walker, lunar_lander_continuous, maze");
  keys("ablate.datasets", datasets,
       "dataset qualities (comma-separated): random, medium, medium-replay, expert, medium-expert");
  keys("ablate.algos", algos, "pessimistic learners (comma-separated): atac, iql");
  keys("ablate.rewards", rewards, "reward labels (comma-separated): true, zero, random, negative");
  keys("ablate.seeds", seeds, "seeds A:B of every cell");
  keys("ablate.bc", bc, "add a behaviour-cloning cell per task, dataset and seed");
}

void AblationConfig::declare_keys(SpecSchema& s) {
  declare_keys_of<AblationConfig>(s);
  for (const std::string& task : dataset_tasks())
    s.add_string("ablate.overrides_" + task, "",
                 "spec overrides for this task's cells, 'key=value' separated by ';' (e.g. network settings)");
}

AblationConfig AblationConfig::from_spec(const Spec& spec) { return read_keys<AblationConfig>(spec); }

namespace {

struct Axes {
  std::vector<std::string> tasks, datasets, algos, rewards;
  int64_t seed_begin = 0, seed_end = 0;
  bool bc = true;
};

// The grid's axes; InputError for an unknown task, quality, learner, reward label or override, so
// nothing is checked only after hours of expert training.
Axes check_axes(const Spec& spec) {
  const AblationConfig c = AblationConfig::from_spec(spec);
  Axes axes{list(c.tasks, "ablate.tasks"), list(c.datasets, "ablate.datasets"), list(c.algos, "ablate.algos"),
            list(c.rewards, "ablate.rewards")};
  for (const auto& t : axes.tasks) expert_spec_path(t);
  for (const auto& q : axes.datasets) check_dataset_quality(q, "ablate.datasets:");
  for (const auto& r : axes.rewards) parse_reward_label(r, "ablate.rewards");
  for (const auto& a : axes.algos) Spec(spec).set("offline.algo", a, "ablate.algos");
  for (const auto& task : axes.tasks) {
    const std::string key = "ablate.overrides_" + task;
    if (!spec.schema().find(key)) throw InputError("ablate.tasks: no " + key + " key for task '" + task + "'");
    for (const std::string& o : split(spec.get_string(key), ';')) {
      if (o.empty()) continue;
      const size_t eq = o.find('=');
      if (eq == std::string::npos || eq == 0) throw InputError(key + ": '" + o + "': expected KEY=VALUE");
      Spec(spec).set(o.substr(0, eq), o.substr(eq + 1), key);
    }
  }
  std::tie(axes.seed_begin, axes.seed_end) = parse_range(c.seeds, "ablate.seeds");
  axes.bc = c.bc;
  return axes;
}

// Every cell of the runs stage, in the table's order.
std::vector<Cell> ablation_cells(const Axes& axes) {
  std::vector<Cell> cells;
  for (const auto& task : axes.tasks)
    for (const auto& q : axes.datasets)
      for (int64_t seed = axes.seed_begin; seed < axes.seed_end; ++seed) {
        for (const auto& algo : axes.algos)
          for (const auto& reward : axes.rewards) cells.push_back({task, q, algo, reward, seed});
        if (axes.bc) cells.push_back({task, q, "bc", "true", seed});
      }
  return cells;
}

std::string dataset_path(const fs::path& root, const std::string& task, const std::string& quality) {
  return (root / "datasets" / (task + "-" + quality + ".h5")).string();
}

Grid ablation_grid(const Spec& spec, const Axes& axes, const fs::path& root) {
  const std::string base = (root / "spec.ini").string();
  Grid grid{root.string(), "ablate", spec.get_int("run.threads"), {{"datasets", {}}, {"runs", {}}, {"summary", {}}}};
  for (const auto& task : axes.tasks) {
    std::string qualities;
    std::vector<std::string> outputs;
    for (const auto& q : axes.datasets) {
      qualities += (qualities.empty() ? "" : ",") + q;
      outputs.push_back(dataset_path(root, task, q));
    }
    grid.stages[0].cells.push_back({task + "-datasets",
                                    {{{"shardlab", "dataset", "make", base, "--task", task, "--quality", qualities,
                                       "--out-dir", (root / "datasets").string(), "--missing"},
                                      "",
                                      1}},
                                    outputs,
                                    -1});
  }
  for (const Cell& cell : ablation_cells(axes)) {
    const fs::path dir = root / "runs" / cell.name();
    GridStep step{
        {"shardlab", "offline", base, "--out", (root / "runs").string(), "--set", "run.name=" + cell.name(), "--set",
         "offline.dataset=" + dataset_path(root, cell.task, cell.dataset), "--set", "offline.algo=" + cell.algo,
         "--set", "offline.reward=" + cell.reward, "--set", "run.seed=" + std::to_string(cell.seed)},
        dir.string(),
        1};
    for (const std::string& o : split(spec.get_string("ablate.overrides_" + cell.task), ';'))
      if (!o.empty()) step.argv.insert(step.argv.end(), {"--set", o});
    const auto task = std::find(axes.tasks.begin(), axes.tasks.end(), cell.task) - axes.tasks.begin();
    grid.stages[1].cells.push_back({cell.name(), {step}, {(dir / "result.json").string()}, task});
  }
  grid.stages[2].cells.push_back({"summary", {{{"shardlab", "ablate", "summarize", root.string()}, "", 1}}, {}, -1});
  return grid;
}

}  // namespace

AblationGrid prepare_ablation(const Spec& spec, const std::string& spec_path) {
  const Axes axes = check_axes(spec);
  const fs::path root = fs::absolute(AblationConfig::from_spec(spec).out).lexically_normal();
  std::error_code error;
  fs::create_directories(root / "datasets", error);
  if (error) throw FileError(root.string() + ": cannot create the ablation folder: " + error.message());
  AblationGrid out{{}, std::make_shared<FolderLock>(root.string(), "an ablation")};
  // The grid's resolved spec: every cell starts from it, with its own --set keys on top.
  const std::string base = (root / "spec.ini").string();
  if (fs::exists(base) && read_text_file(base) != spec.to_ini())
    std::cerr << "ablate: " << base << " differs from " << spec_path << "; finished cells keep their old results\n";
  write_text_file(base, spec.to_ini());
  out.grid = ablation_grid(spec, axes, root);
  write_grid(out.grid);
  return out;
}

std::string run_ablation(const Spec& spec, const std::string& spec_path, const std::string& self, int jobs) {
  if (jobs < 1) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  const AblationGrid prepared = prepare_ablation(spec, spec_path);
  run_grid(prepared.grid, self, jobs, "ablate");
  std::cout << read_text_file(prepared.grid.dir + "/ablation.md");
  return prepared.grid.dir + "/ablation.md";
}

std::string summarize_ablation(const std::string& root_text) {
  const fs::path root = fs::absolute(root_text).lexically_normal();
  const std::string base = (root / "spec.ini").string();
  if (!fs::is_regular_file(base)) throw FileError(root_text + ": not an ablation folder (no spec.ini)");
  const Spec spec = Spec::load(shardlab_schema(), base, {});
  const Axes axes = check_axes(spec);
  // The tasks' outcome rates (fell, landed, crashed, cheese, ...), each task's own filled in.
  GridTable table;
  table.heading = "Survival instinct: normalized scores";
  table.key_names = {"dataset"};
  table.seed_column = false;
  table.columns = {"behavior"};
  if (axes.bc) table.columns.push_back("BC");
  for (const auto& algo : axes.algos)
    for (const auto& reward : axes.rewards) table.columns.push_back(algo + " " + reward);
  for (const std::string& c : table.columns) table.decimals[c] = 1;
  std::map<std::string, size_t> row_of;
  for (const auto& task : axes.tasks)
    for (const auto& q : axes.datasets) {
      const std::string row = task + "-" + q;
      row_of[row] = table.rows.size();
      table.rows.push_back({{row}, {}, {}});
      const std::string path = dataset_path(root, task, q);
      if (!fs::exists(path)) continue;
      const ExperienceReader data(path);
      const auto& m = data.metadata();
      auto get = [&](const char* key) { return m.count(key) ? std::stod(m.at(key)) : std::nan(""); };
      table.samples[{row_of[row], "behavior"}].push_back(
          normalized_score(get("policy_mean_return"), get("reference_random_return"), get("reference_expert_return")));
    }
  std::vector<GridCellNumbers> numbers;
  for (const Cell& cell : ablation_cells(axes)) {
    const fs::path file = root / "runs" / cell.name() / "result.json";
    if (!fs::exists(file)) {
      table.missing.push_back(cell.name());
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(read_text_file(file.string()), nullptr, false);
    if (j.is_discarded()) throw FileError(file.string() + ": not readable JSON");
    const nlohmann::json e = j.value("evaluation", nlohmann::json());
    GridCellNumbers n{cell.name(),
                      {{"task", cell.task}, {"dataset", cell.dataset}, {"algo", cell.algo}, {"reward", cell.reward}},
                      cell.seed,
                      evaluation_numbers(e)};
    const double score = n.numbers.count("normalized_score") ? n.numbers["normalized_score"] : std::nan("");
    const std::string column = cell.algo == "bc" ? "BC" : cell.algo + " " + cell.reward;
    table.samples[{row_of[cell.task + "-" + cell.dataset], column}].push_back(score);
    numbers.push_back(std::move(n));
  }
  const AblationConfig c = AblationConfig::from_spec(spec);
  table.intro = "From `" + base + "`; mean ± 95% interval (Student t) over seeds " + c.seeds +
                ". Normalized score = 100 (R - R_random) / (R_expert - R_random) with the references recorded in "
                "each dataset; behavior = the dataset's behaviour policy.";
  BarChart chart;
  chart.title = "Normalized score by reward label (mean, 95% interval over seeds)";
  chart.x_label = "task-dataset";
  chart.y_label = "normalized score";
  for (const auto& row : table.rows) chart.groups.push_back(row.keys[0]);
  chart.series = table.columns;
  chart.colors = {"#7f7f7f", "#bcbd22", "#1f77b4", "#aec7e8", "#9edae5",
                  "#17becf", "#d62728", "#ff9896", "#f7b6d2", "#e377c2"};
  for (const auto& [key, samples] : table.samples) chart.samples[{table.rows[key.first].keys[0], key.second}] = samples;
  chart.y_max = 100;
  return write_grid_summary(root.string(), "ablation", table, chart, numbers);
}

}  // namespace shardlab
