#include "experiments/reproduce.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/digest.h"
#include "core/error.h"
#include "core/folder_lock.h"
#include "core/text.h"
#include "experiments/grid.h"
#include "experiments/result_page.h"
#include "experiments/schema.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

// What a command printed on stdout, or nothing when it failed (git missing, not a checkout).
std::optional<std::string> output_of(const std::string& command) {
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string text;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  if (pclose(pipe) != 0) return std::nullopt;
  return text;
}

std::string git(const std::string& arguments) {
  return output_of("git -C " + shell_quoted(SHARDLAB_SOURCE_DIR) + " " + arguments).value_or("");
}

// One trained run of a recipe: where it lives and how it is trained.
struct PlannedRun {
  const RecipeRun* run;
  std::string key, dir;  // dir: OUT/runs/<key>, absolute
  std::vector<std::string> overrides;
  bool reused = false;  // trained (or started) before this call
};

PlannedRun plan_run(const RecipeRun& run, const std::string& runs_dir, bool smoke, const std::string& code) {
  PlannedRun planned{&run, "", "", run.set, false};
  if (smoke) planned.overrides.insert(planned.overrides.end(), run.smoke.begin(), run.smoke.end());
  const std::string spec_path = std::string(SHARDLAB_SOURCE_DIR) + "/" + run.spec;
  // run.name is the key itself, so the resolved spec is hashed without it.
  const std::string resolved = Spec::load(shardlab_schema(), spec_path, planned.overrides).to_ini();
  const std::string what = resolved + "\nnproc=" + std::to_string(run.nproc) + "\ncode=" + code;
  planned.key = fs::path(run.spec).stem().string() + "-" + sha256_hex(what.data(), what.size()).substr(0, 12);
  planned.dir = runs_dir + "/" + planned.key;
  planned.reused = fs::exists(planned.dir + "/spec.ini");
  return planned;
}

// A step's words with its placeholders filled in: a run's folder, the recipe's folder, a scale value.
std::vector<std::string> step_words(const Recipe& recipe, const RecipeStep& step, const std::vector<PlannedRun>& runs,
                                    const std::string& dir, bool smoke) {
  std::vector<std::string> words = {"shardlab"};
  for (const std::string& word : step.words) {
    const std::string whole =
        word.size() > 2 && word.front() == '{' && word.back() == '}' ? word.substr(1, word.size() - 2) : "";
    if (recipe.scale.count(whole)) {  // a value of flags: its words, or none
      for (const std::string& w : shardlab::words(recipe.scaled(whole, smoke))) words.push_back(w);
      continue;
    }
    words.push_back(fill_placeholders(
        word,
        [&](const std::string& p) {
          if (p == "out") return dir;
          if (p == "repo") return std::string(SHARDLAB_SOURCE_DIR);
          if (recipe.scale.count(p)) return recipe.scaled(p, smoke);
          for (const PlannedRun& run : runs)
            if (run.run->name == p) return run.dir;
          throw InputError(recipe.path + ": [step." + step.name + "] {" + p + "}: no run or scale value of that name");
        },
        recipe.path));
  }
  return words;
}

Grid recipe_grid(const Recipe& recipe, const std::vector<PlannedRun>& runs, const std::string& dir, bool smoke) {
  Grid grid;
  grid.dir = dir;
  grid.kind = "reproduce";
  GridStage train{"runs", {}};
  for (const PlannedRun& run : runs) {
    std::vector<std::string> argv = {"shardlab",
                                     "train",
                                     std::string(SHARDLAB_SOURCE_DIR) + "/" + run.run->spec,
                                     "--out",
                                     fs::path(run.dir).parent_path().string(),
                                     "--set",
                                     "run.name=" + run.key};
    for (const std::string& o : run.overrides) argv.insert(argv.end(), {"--set", o});
    // No outputs: a finished run's `train --resume` returns at once, so the cell always runs.
    train.cells.push_back({"run-" + run.run->name, {{argv, run.dir, run.run->nproc}}, {}, -1});
  }
  if (!train.cells.empty()) grid.stages.push_back(std::move(train));
  // A step named in another's `after` finishes first: each step goes to the stage after the
  // latest of those it waits for ("steps", then "steps-2", ...), and a stage starts once the one
  // before has finished.
  std::map<std::string, size_t> depth;
  std::vector<GridStage> levels;
  for (const RecipeStep& step : recipe.steps) {
    size_t d = 0;
    for (const std::string& name : step.after) d = std::max(d, depth.at(name) + 1);
    depth[step.name] = d;
    while (levels.size() <= d)
      levels.push_back({levels.empty() ? "steps" : "steps-" + std::to_string(levels.size() + 1), {}});
    std::vector<std::string> outputs;
    for (const std::string& file : step.makes) outputs.push_back(dir + "/" + file);
    levels[d].cells.push_back({step.name, {{step_words(recipe, step, runs, dir, smoke), "", 1}}, outputs, -1});
  }
  for (GridStage& level : levels) grid.stages.push_back(std::move(level));
  return grid;
}

// The recipe's folder made ready: refused when it holds something else, or the results of other code or
// another scale (unless --fresh, which empties it). Returns its recipe.json: the facts, and what the
// earlier calls on the folder spent ("wall_seconds") and trained ("trained_here": run keys).
Json prepare_folder(const std::string& dir, Json facts, bool fresh) {
  const std::string marker = dir + "/recipe.json";
  if (fs::is_regular_file(marker)) {
    const Json before = Json::parse(read_text_file(marker), nullptr, /*allow_exceptions=*/false);
    const bool same = before.is_object() && before.value("commit", "") == facts["commit"] &&
                      before.value("scale", "") == facts["scale"];
    if (!same && !fresh)
      throw InputError(dir + " holds results of " + (before.is_object() ? before.value("scale", "?") : "?") +
                       " scale from commit " + (before.is_object() ? before.value("commit", "?") : "?") + "; this is " +
                       facts["scale"].get<std::string>() + " scale on " + facts["commit"].get<std::string>() +
                       ": add --fresh to measure again (trained runs are kept), or choose another --out");
    if (fresh) {
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename() != ".lock") fs::remove_all(e.path());
    } else {
      facts["wall_seconds"] = before.value("wall_seconds", 0.0);
      facts["trained_here"] = before.value("trained_here", Json::array());
    }
  } else if (fs::exists(dir)) {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename() != ".lock")
        throw InputError(dir + " holds files but no recipe.json: not a recipe's folder; choose another --out");
  }
  if (!facts.contains("wall_seconds")) facts["wall_seconds"] = 0.0;
  if (!facts.contains("trained_here")) facts["trained_here"] = Json::array();
  write_text_file(marker, facts.dump(2) + "\n");
  return facts;
}

}  // namespace

std::string source_commit() {
  const std::string head = git("rev-parse HEAD");
  if (head.empty()) return "";
  const bool dirty = !git("status --porcelain --untracked-files=no").empty();
  return head.substr(0, 12) + (dirty ? " (and uncommitted changes)" : "");
}

std::string training_code_version() {
  const std::string paths = " -- agents core envs offline CMakeLists.txt";
  const std::string trees = git("rev-parse HEAD:agents HEAD:core HEAD:envs HEAD:offline HEAD:CMakeLists.txt");
  if (trees.empty()) return std::string("shardlab ") + SHARDLAB_VERSION + " (no git checkout)";
  const std::string state = trees + git("diff HEAD" + paths) + git("status --porcelain" + paths);
  return sha256_hex(state.data(), state.size()).substr(0, 16);
}

std::string reproduce(const Recipe& recipe, const ReproduceOptions& options, const std::string& self) {
  const auto begin = std::chrono::steady_clock::now();
  const std::string out = fs::absolute(options.out).lexically_normal().string();
  const std::string dir = out + "/" + recipe.name;
  fs::create_directories(dir);
  fs::create_directories(out + "/runs");
  const FolderLock lock(dir, "shardlab reproduce " + recipe.name);

  Json facts;
  facts["recipe"] = recipe.name;
  facts["scale"] = options.smoke ? "smoke" : "full";
  const std::string commit = source_commit();
  facts["commit"] = commit.empty() ? "unknown" : commit;
  Json marker = prepare_folder(dir, facts, options.fresh);

  const std::string code = training_code_version();
  std::vector<PlannedRun> runs;
  for (const RecipeRun& run : recipe.runs) runs.push_back(plan_run(run, out + "/runs", options.smoke, code));
  const Grid grid = recipe_grid(recipe, runs, dir, options.smoke);
  write_grid(grid);

  int64_t most_ranks = 1;
  for (const PlannedRun& run : runs) most_ranks = std::max(most_ranks, run.run->nproc);
  for (const GridStage& stage : grid.stages) {
    Grid one = grid;
    one.stages = {stage};
    const int jobs = stage.name == "runs" ? std::max(1, options.jobs / static_cast<int>(most_ranks)) : options.jobs;
    run_grid(one, self, jobs, recipe.name + " " + stage.name);
  }

  RecipeOutcome outcome;
  outcome.dir = dir;
  outcome.out = options.out;
  outcome.smoke = options.smoke;
  outcome.commit = facts["commit"];
  outcome.code_version = code;
  // A recipe resumed over several calls: its wall time is theirs together, and a run trained by an
  // earlier call on this folder counts as trained here.
  marker["wall_seconds"] = marker["wall_seconds"].get<double>() +
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  for (const PlannedRun& run : runs)
    if (!run.reused) marker["trained_here"].push_back(run.key);
  write_text_file(dir + "/recipe.json", marker.dump(2) + "\n");
  outcome.wall_seconds = marker["wall_seconds"];
  for (const PlannedRun& run : runs) {
    const auto& here = marker["trained_here"];
    const bool trained_here = std::find(here.begin(), here.end(), run.key) != here.end();
    outcome.runs.push_back({run.run->name, run.run->spec, run.key, run.overrides, run.run->nproc, !trained_here});
  }
  for (const GridStage& stage : grid.stages)
    for (const GridCell& cell : stage.cells) {
      std::vector<std::string> argv = cell.steps[0].argv;
      if (cell.steps[0].ranks > 1) argv.insert(argv.end(), {"--nproc", std::to_string(cell.steps[0].ranks)});
      outcome.commands.push_back(argv);
    }
  const Json result = result_json(recipe, outcome);
  write_text_file(dir + "/result.json", result.dump(2) + "\n");
  write_text_file(dir + "/result.md", result_page(result, ""));
  return dir + "/result.json";
}

}  // namespace shardlab
