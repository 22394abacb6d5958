#include "experiments/ablation.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <tuple>

#include "core/error.h"
#include "core/folder_lock.h"
#include "core/spec.h"
#include "core/text.h"
#include "experiments/ablation_plan.h"
#include "offline/dataset_maker.h"
#include "offline/learner.h"
#include "offline/relabel.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

// The items of a comma-separated list; InputError naming `key` when there are none and `required`.
std::vector<std::string> list(const std::string& text, const std::string& key, bool required = true) {
  std::vector<std::string> out;
  for (const std::string& item : split(text, ','))
    if (!item.empty()) out.push_back(trim(item));
  if (out.empty() && required) throw InputError(key + ": expected a comma-separated list, got '" + text + "'");
  return out;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The KEY=VALUE overrides of one ablate.overrides_* key, each checked on a copy of the spec.
std::vector<std::pair<std::string, std::string>> parse_overrides(const Spec& spec, const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& o : split(spec.get_string(key), ';')) {
    if (o.empty()) continue;
    const size_t eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError(key + ": '" + o + "': expected KEY=VALUE");
    Spec(spec).set(o.substr(0, eq), o.substr(eq + 1), key);
    out.emplace_back(o.substr(0, eq), o.substr(eq + 1));
  }
  return out;
}

std::string task_overrides_key(const std::string& task) { return "ablate.overrides_" + task; }
std::string algo_overrides_key(const std::string& algo) { return "ablate.overrides_algo_" + algo; }
std::string algo_rewards_key(const std::string& algo) { return "ablate.rewards_algo_" + algo; }

}  // namespace

template <class Keys>
void AblationConfig::bind(Keys& keys) {
  keys("ablate.out", out, "folder of the grid: datasets/, runs/, choices/, logs/, ablation.md, .svg, .csv, cells.csv");
  keys("ablate.tasks", tasks, "tasks (comma-separated): bipedal_walker, lunar_lander_continuous, maze");
  keys("ablate.datasets", datasets,
       "dataset qualities (comma-separated): random, medium, medium-replay, expert, medium-expert");
  keys("ablate.algos", algos, "pessimistic learners (comma-separated): atac, iql");
  keys("ablate.rewards", rewards, "reward labels (comma-separated): true, zero, random, negative");
  keys("ablate.seeds", seeds, "seeds A:B of every reported cell");
  keys("ablate.bc", bc, "add a behaviour-cloning cell per task, dataset and seed");
  keys("ablate.noterm_algos", noterm_algos,
       "learners (of ablate.algos, comma-separated) that also run on each dataset's no-early-termination copy "
       "(every terminal a timeout: `relabel --terminals timeout`); empty: no control");
  keys("ablate.noterm_rewards", noterm_rewards,
       "the reward labels (of ablate.rewards, comma-separated) of those control cells");
  keys("ablate.atac_betas", atac_betas,
       "ATAC's beta candidates (comma-separated numbers; the paper's grid is 4^-4 .. 4^4), chosen per dataset by "
       "the true-reward ATAC runs on ablate.beta_seeds and kept for every label of that dataset; empty: atac.beta "
       "as the spec sets it");
  keys("ablate.beta_seeds", beta_seeds,
       "seeds A:B of the beta-selection runs, disjoint from ablate.seeds so that no reported run is chosen on its "
       "own evaluation");
}

void AblationConfig::declare_keys(SpecSchema& s) {
  declare_keys_of<AblationConfig>(s);
  for (const std::string& task : dataset_tasks())
    s.add_string(task_overrides_key(task), "",
                 "spec overrides for this task's cells, 'key=value' separated by ';' (e.g. network settings)");
  for (const LearnerRegistration& learner : offline_learners()) {
    s.add_string(algo_overrides_key(learner.name), "",
                 "spec overrides for this learner's cells, 'key=value' separated by ';', applied after the task's "
                 "(e.g. IQL's unsquashed head: agent.policy_head=gaussian)");
    if (learner.name != "bc")
      s.add_string(algo_rewards_key(learner.name), "",
                   "this learner's reward labels (comma-separated, each in ablate.rewards); empty: all of "
                   "ablate.rewards");
  }
}

AblationConfig AblationConfig::from_spec(const Spec& spec) { return read_keys<AblationConfig>(spec); }

std::vector<std::pair<std::string, std::string>> AblationAxes::overrides(const Spec& spec, const std::string& task,
                                                                         const std::string& algo) const {
  auto out = parse_overrides(spec, task_overrides_key(task));
  for (auto& o : parse_overrides(spec, algo_overrides_key(algo))) out.push_back(std::move(o));
  return out;
}

const std::vector<std::string>& AblationAxes::labels(const std::string& algo) const {
  const auto it = rewards_of.find(algo);
  return it == rewards_of.end() || it->second.empty() ? rewards : it->second;
}

bool AblationAxes::noterm(const std::string& algo, const std::string& reward) const {
  return contains(noterm_algos, algo) && contains(noterm_rewards, reward) && contains(labels(algo), reward);
}

namespace {

// ablate.noterm_*: both empty, or learners and labels of the grid's own axes.
void check_noterm(const AblationConfig& c, AblationAxes& axes) {
  axes.noterm_algos = list(c.noterm_algos, "ablate.noterm_algos", false);
  axes.noterm_rewards = list(c.noterm_rewards, "ablate.noterm_rewards", false);
  if (axes.noterm_algos.empty() != axes.noterm_rewards.empty())
    throw InputError(
        "ablate.noterm_algos and ablate.noterm_rewards: give both (the control's learners and labels) "
        "or neither");
  for (const auto& a : axes.noterm_algos)
    if (!contains(axes.algos, a))
      throw InputError("ablate.noterm_algos: '" + a + "' is not in ablate.algos (" + join(axes.algos, ", ") + ")");
  for (const auto& r : axes.noterm_rewards)
    if (!contains(axes.rewards, r))
      throw InputError("ablate.noterm_rewards: '" + r + "' is not in ablate.rewards (" + join(axes.rewards, ", ") +
                       ")");
}

// ablate.atac_betas and ablate.beta_seeds: distinct candidates atac.beta accepts, ATAC in the grid,
// no override that would set beta behind the choice's back, selection seeds apart from the reported.
void check_betas(const Spec& spec, const AblationConfig& c, AblationAxes& axes) {
  axes.betas = list(c.atac_betas, "ablate.atac_betas", false);
  std::tie(axes.beta_seed_begin, axes.beta_seed_end) = parse_range(c.beta_seeds, "ablate.beta_seeds");
  if (axes.betas.empty()) return;
  if (!contains(axes.algos, "atac"))
    throw InputError("ablate.atac_betas: ATAC is not in ablate.algos (" + join(axes.algos, ", ") +
                     "); leave ablate.atac_betas empty");
  std::vector<double> values;
  for (const std::string& b : axes.betas) {
    Spec(spec).set("atac.beta", b, "ablate.atac_betas");
    const double v = std::stod(b);
    if (std::find(values.begin(), values.end(), v) != values.end())
      throw InputError("ablate.atac_betas: '" + b + "' is given twice");
    values.push_back(v);
  }
  if (axes.beta_seed_end <= axes.beta_seed_begin)
    throw InputError("ablate.beta_seeds '" + c.beta_seeds + "': expected at least one seed");
  if (axes.beta_seed_begin < axes.seed_end && axes.seed_begin < axes.beta_seed_end)
    throw InputError("ablate.beta_seeds " + c.beta_seeds + " overlaps ablate.seeds " + c.seeds +
                     ": the reported runs would be chosen on their own evaluation; take other seeds (e.g. 100:102)");
  for (const auto& task : axes.tasks)
    for (const auto& [key, value] : axes.overrides(spec, task, "atac"))
      if (key == "atac.beta")
        throw InputError("ablate.atac_betas chooses atac.beta per dataset, but the overrides of " + task +
                         " or atac set it to " + value + "; remove one");
}

}  // namespace

AblationAxes check_ablation_axes(const Spec& spec) {
  const AblationConfig c = AblationConfig::from_spec(spec);
  AblationAxes axes;
  axes.tasks = list(c.tasks, "ablate.tasks");
  axes.datasets = list(c.datasets, "ablate.datasets");
  axes.algos = list(c.algos, "ablate.algos");
  axes.rewards = list(c.rewards, "ablate.rewards");
  for (const auto& t : axes.tasks) expert_spec_path(t);
  for (const auto& q : axes.datasets) check_dataset_quality(q, "ablate.datasets:");
  for (const auto& r : axes.rewards) parse_reward_label(r, "ablate.rewards");
  for (const auto& a : axes.algos) {
    Spec(spec).set("offline.algo", a, "ablate.algos");
    if (a == "bc") throw InputError("ablate.algos: bc is added by ablate.bc (it ignores rewards); list atac, iql");
    axes.rewards_of[a] = list(spec.get_string(algo_rewards_key(a)), algo_rewards_key(a), false);
    for (const auto& r : axes.rewards_of[a])
      if (!contains(axes.rewards, r))
        throw InputError(algo_rewards_key(a) + ": '" + r + "' is not in ablate.rewards (" + join(axes.rewards, ", ") +
                         ")");
  }
  std::vector<std::string> learners = axes.algos;
  if (c.bc) learners.push_back("bc");
  for (const auto& task : axes.tasks) {
    if (!spec.schema().find(task_overrides_key(task)))
      throw InputError("ablate.tasks: no " + task_overrides_key(task) + " key for task '" + task + "'");
    for (const auto& algo : learners) axes.overrides(spec, task, algo);
  }
  std::tie(axes.seed_begin, axes.seed_end) = parse_range(c.seeds, "ablate.seeds");
  axes.bc = c.bc;
  check_noterm(c, axes);
  check_betas(spec, c, axes);
  return axes;
}

std::string AblationCell::data_name() const { return task + "-" + dataset + (noterm ? "-noterm" : ""); }

std::string AblationCell::name() const {
  return data_name() + "-" + algo + "-" + reward + (beta.empty() ? "" : "-beta" + beta) + "-s" + std::to_string(seed);
}

std::string AblationCell::column() const {
  return algo == "bc" ? "BC" : algo + " " + reward + (noterm ? " noterm" : "");
}

std::vector<AblationCell> reported_cells(const AblationAxes& axes) {
  std::vector<AblationCell> cells;
  for (const auto& task : axes.tasks)
    for (const auto& q : axes.datasets)
      for (int64_t seed = axes.seed_begin; seed < axes.seed_end; ++seed) {
        for (const auto& algo : axes.algos)
          for (const auto& reward : axes.labels(algo)) {
            cells.push_back({task, q, algo, reward, seed, false, ""});
            if (axes.noterm(algo, reward)) cells.push_back({task, q, algo, reward, seed, true, ""});
          }
        if (axes.bc) cells.push_back({task, q, "bc", "true", seed, false, ""});
      }
  return cells;
}

std::vector<AblationCell> beta_candidate_cells(const AblationAxes& axes, const std::string& task,
                                               const std::string& quality) {
  std::vector<AblationCell> cells;
  for (const std::string& beta : axes.betas)
    for (int64_t seed = axes.beta_seed_begin; seed < axes.beta_seed_end; ++seed)
      cells.push_back({task, quality, "atac", "true", seed, false, beta});
  return cells;
}

std::string ablation_dataset_path(const std::string& root, const std::string& task, const std::string& quality,
                                  bool noterm) {
  return (fs::path(root) / "datasets" / (task + "-" + quality + (noterm ? "-noterm" : "") + ".h5")).string();
}

std::string beta_choice_path(const std::string& root, const std::string& task, const std::string& quality) {
  return (fs::path(root) / "choices" / (task + "-" + quality + "-beta.json")).string();
}

std::string beta_value_path(const std::string& root, const std::string& task, const std::string& quality) {
  return (fs::path(root) / "choices" / (task + "-" + quality + "-beta.txt")).string();
}

namespace {

// A task's datasets, then each one's no-termination copy (made again whole when the cell reruns:
// a copy takes seconds, and a half-written one never has the final name).
GridCell datasets_cell(const AblationAxes& axes, const std::string& root, const std::string& base,
                       const std::string& task) {
  GridCell cell{task + "-datasets", {}, {}, -1};
  std::vector<std::string> copies;
  for (const auto& q : axes.datasets) {
    cell.outputs.push_back(ablation_dataset_path(root, task, q, false));
    if (!axes.any_noterm()) continue;
    copies.push_back(ablation_dataset_path(root, task, q, true));
    cell.steps.push_back(
        {{"shardlab", "relabel", cell.outputs.back(), copies.back(), "--terminals", "timeout", "--force"}, "", 1});
  }
  cell.steps.insert(cell.steps.begin(), {{"shardlab", "dataset", "make", base, "--task", task, "--quality",
                                          join(axes.datasets, ","), "--out-dir", root + "/datasets", "--missing"},
                                         "",
                                         1});
  cell.outputs.insert(cell.outputs.end(), copies.begin(), copies.end());
  return cell;
}

// The `shardlab offline` process of a cell: the task's overrides, then the learner's, then the
// beta it runs with (a candidate's, or its dataset's choice read at start).
GridCell offline_cell(const Spec& spec, const AblationAxes& axes, const std::string& root, const std::string& base,
                      const AblationCell& cell, int64_t needs) {
  const fs::path dir = fs::path(root) / "runs" / cell.name();
  GridStep step{{"shardlab", "offline", base, "--out", root + "/runs", "--set", "run.name=" + cell.name(), "--set",
                 "offline.dataset=" + ablation_dataset_path(root, cell.task, cell.dataset, cell.noterm), "--set",
                 "offline.algo=" + cell.algo, "--set", "offline.reward=" + cell.reward, "--set",
                 "run.seed=" + std::to_string(cell.seed)},
                dir.string(),
                1};
  for (const auto& [key, value] : axes.overrides(spec, cell.task, cell.algo))
    step.argv.insert(step.argv.end(), {"--set", key + "=" + value});
  if (!cell.beta.empty())
    step.argv.insert(step.argv.end(), {"--set", "atac.beta=" + cell.beta});
  else if (cell.algo == "atac" && axes.selects_beta())
    step.argv.insert(step.argv.end(), {"--set-from", "atac.beta=" + beta_value_path(root, cell.task, cell.dataset)});
  return {cell.name(), {step}, {(dir / "result.json").string()}, needs};
}

Grid ablation_grid(const Spec& spec, const AblationAxes& axes, const fs::path& root_path) {
  const std::string root = root_path.string(), base = (root_path / "spec.ini").string();
  Grid grid{root, "ablate", spec.get_int("run.threads"), {{"datasets", {}}, {"runs", {}}}};
  for (const auto& task : axes.tasks) grid.stages[0].cells.push_back(datasets_cell(axes, root, base, task));
  auto task_index = [&](const std::string& task) {
    return static_cast<int64_t>(std::find(axes.tasks.begin(), axes.tasks.end(), task) - axes.tasks.begin());
  };
  GridStage choose{"choose", {}}, atac{"atac", {}};
  for (const auto& task : axes.tasks)
    for (const auto& q : axes.datasets) {
      for (const AblationCell& cell : beta_candidate_cells(axes, task, q))
        grid.stages[1].cells.push_back(offline_cell(spec, axes, root, base, cell, task_index(task)));
      if (axes.selects_beta())
        choose.cells.push_back({task + "-" + q + "-choose-beta",
                                {{{"shardlab", "ablate", "choose-beta", root, task, q}, "", 1}},
                                {beta_choice_path(root, task, q), beta_value_path(root, task, q)},
                                -1});
    }
  for (const AblationCell& cell : reported_cells(axes)) {
    if (cell.algo == "atac" && axes.selects_beta()) {
      const auto q = std::find(axes.datasets.begin(), axes.datasets.end(), cell.dataset) - axes.datasets.begin();
      atac.cells.push_back(offline_cell(spec, axes, root, base, cell,
                                        task_index(cell.task) * static_cast<int64_t>(axes.datasets.size()) + q));
    } else {
      grid.stages[1].cells.push_back(offline_cell(spec, axes, root, base, cell, task_index(cell.task)));
    }
  }
  if (axes.selects_beta()) {
    grid.stages.push_back(std::move(choose));
    grid.stages.push_back(std::move(atac));
  }
  grid.stages.push_back({"summary", {{"summary", {{{"shardlab", "ablate", "summarize", root}, "", 1}}, {}, -1}}});
  return grid;
}

}  // namespace

AblationGrid prepare_ablation(const Spec& spec, const std::string& spec_path) {
  const AblationAxes axes = check_ablation_axes(spec);
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

}  // namespace shardlab
