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
#include "experiments/grid_summary.h"
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

// The cell's training, resumed by the grid runner once its run folder has started.
GridStep train_step(const SweepPlan& plan, const SweepCell& cell) {
  std::vector<std::string> argv = {"shardlab",
                                   "train",
                                   plan.spec_path(),
                                   "--out",
                                   plan.dir + "/runs",
                                   "--set",
                                   "run.seed=" + std::to_string(cell.seed)};
  for (const auto& [key, value] : cell.values) argv.insert(argv.end(), {"--set", key + "=" + value});
  argv.insert(argv.end(), {"--set", "run.name=" + cell.name});
  return {argv, plan.run_dir(cell), plan.nproc};
}

GridStep eval_step(const SweepPlan& plan, const SweepCell& cell) {
  std::vector<std::string> argv = {"shardlab", "eval", plan.run_dir(cell), "--episodes", std::to_string(plan.episodes)};
  if (plan.greedy) argv.push_back("--greedy");
  for (const std::string& s : plan.eval_sets) argv.insert(argv.end(), {"--set", s});
  argv.insert(argv.end(), {"--out", plan.eval_path(cell)});
  return {argv, "", 1};
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
    // Their commands are in grid.json.
    j["cells"].push_back({{"index", i}, {"name", cell.name}, {"seed", cell.seed}, {"values", values}});
  }
  return j;
}

}  // namespace

std::map<std::string, double> eval_metrics(const std::string& path) {
  const nlohmann::json j = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw FileError(path + ": not readable JSON");
  return evaluation_numbers(j);
}

namespace {

// The progress line's note when a cell's process ends: "<cell> trained", "<cell> evaluated: mean
// return R", "<cell> train failed".
std::string job_note(const ProcessJob& job, bool ok) {
  if (!ok) return job.name + " failed";
  const std::string verb = job.argv.size() > 1 ? job.argv[1] : "";
  const std::string cell = job.name.substr(0, job.name.rfind(' '));
  if (verb == "train") return cell + " trained";
  if (verb != "eval") return job.name + " done";
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
  write_grid(sweep_grid(plan));
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

Grid sweep_grid(const SweepPlan& plan) {
  const Spec spec = Spec::load(shardlab_schema(), plan.spec_path(), {});
  Grid grid{plan.dir, "sweep", spec.get_int("run.threads"), {{"runs", {}}}};
  for (const GridAxis& axis : plan.grid)
    if (axis.key == "run.threads")
      for (const std::string& v : axis.values) grid.threads = std::max(grid.threads, parse_integer(v).value_or(1));
  for (const SweepCell& cell : plan.cells)
    grid.stages[0].cells.push_back(
        {cell.name, {train_step(plan, cell), eval_step(plan, cell)}, {plan.eval_path(cell)}, -1});
  grid.stages.push_back({"summary", {{"summary", {{{"shardlab", "sweep", "summarize", plan.dir}, "", 1}}, {}, -1}}});
  return grid;
}

void run_sweep(const SweepPlan& plan, const std::string& self, int jobs) {
  if (jobs < 0) throw InputError("--jobs " + std::to_string(jobs) + ": expected at least 1");
  const Grid grid = sweep_grid(plan);
  size_t points = 1;
  for (const GridAxis& axis : plan.grid) points *= axis.values.size();
  const unsigned cores = std::thread::hardware_concurrency();
  if (jobs == 0)
    jobs = static_cast<int>(std::max<int64_t>(1, static_cast<int64_t>(cores) / (plan.nproc * grid.threads)));
  const GridStatus status = grid_status(grid);
  const size_t unfinished = static_cast<size_t>(status.cells) - status.finished.size();
  std::cerr << "sweep: " << plan.cells.size() << " cells (" << points << " grid points x seeds " << plan.seeds
            << "), a train and an eval process each\n";
  const int64_t busy = std::min<int64_t>(jobs, static_cast<int64_t>(unfinished)) * plan.nproc * grid.threads;
  if (cores > 0 && busy > static_cast<int64_t>(cores))
    std::cerr << "sweep: warning: up to " << busy << " threads (--jobs x --nproc x run.threads) on " << cores
              << " cores; cells will slow each other down\n";
  run_grid(grid, self, jobs, "sweep", job_note);
  std::cout << read_text_file(plan.dir + "/summary.md");
}

}  // namespace shardlab
