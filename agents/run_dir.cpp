#include "agents/run_dir.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "core/folder_lock.h"
#include "core/spec.h"
#include "core/text.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

// What every run.json starts with: the version, the spec's seed/threads/device, then `facts`.
nlohmann::ordered_json run_json_head(const Spec& spec, const nlohmann::json& facts) {
  nlohmann::ordered_json j;
  j["shardlab_version"] = SHARDLAB_VERSION;
  j["seed"] = spec.get_int("run.seed");
  j["threads"] = spec.get_int("run.threads");
  j["device"] = spec.get_string("run.device");
  for (const auto& [key, value] : facts.items()) j[key] = value;
  return j;
}

bool is_checkpoint_name(const fs::path& p) {
  return p.filename().string().rfind("update_", 0) == 0 && p.extension() == ".pt";
}

std::vector<std::string> checkpoints_in(const fs::path& dir) {
  std::vector<std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_checkpoint_name(e.path())) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());  // update numbers are zero-padded
  return files;
}

// A folder left by a run that stopped before it began: the lock file, perhaps an empty checkpoints/.
bool holds_only_a_lock_file(const fs::path& dir) {
  if (!fs::is_directory(dir)) return false;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name == ".lock") continue;
    if (name == "checkpoints" && e.is_directory() && fs::is_empty(e.path())) continue;
    return false;
  }
  return true;
}

}  // namespace

template <class Keys>
void RunConfig::bind(Keys& keys) {
  keys("run.seed", seed, "master seed: every environment and policy RNG derives from it").at_least(0);
  keys("run.threads", threads,
       "CPU threads for torch and collection (recorded with every run; more than the cores is warned of)")
      .at_least(1)
      .at_most(256);
  keys("run.name", name, "run folder name under --out (default: the spec file's name)").check =
      [](const std::string& v) {
        // One folder name: the run stays inside --out.
        if (v == "." || v == ".." || v.find('/') != std::string::npos || v.find('\0') != std::string::npos)
          throw InputError("'" + v + "': expected one folder name (no '/', not '.' or '..')");
      };
  keys("run.device", device, "cpu, or cuda where a CUDA libtorch and a GPU exist", {"cpu", "cuda"});
  keys("run.checkpoint_every", checkpoint_every, "updates between checkpoints (the last update always saves)")
      .at_least(1);
  keys("run.keep_checkpoints", keep_checkpoints, "periodic checkpoints kept (older ones are deleted)").at_least(1);
  keys("run.milestone_every", milestone_every,
       "steps (env steps; offline: gradient steps) between milestone checkpoints, kept in milestones/ for "
       "`analyze milestones` (0: none)")
      .at_least(0);
  keys("run.save_experience", save_experience,
       "online learners: write every transition to experience.h5 (D4RL layout)");
}

void RunConfig::declare_keys(SpecSchema& s) { declare_keys_of<RunConfig>(s); }

RunConfig RunConfig::from_spec(const Spec& spec) { return read_keys<RunConfig>(spec); }

void RunDir::check_can_open(const std::string& root, const std::string& name, const Spec& spec, bool resume) {
  const std::string path = (fs::path(root) / name).string();
  const std::string spec_file = path + "/spec.ini";
  if (resume) {
    if (!fs::is_regular_file(spec_file)) throw InputError(path + ": no run to resume there (no spec.ini)");
    const Spec saved = Spec::from_text(spec.schema(), read_text_file(spec_file), spec_file, {});
    const std::string diff = spec.difference_from(saved);
    if (!diff.empty()) throw InputError("--resume with a different spec than the run's: " + diff);
  } else if (fs::exists(path) && !holds_only_a_lock_file(path)) {
    throw InputError(path + " exists; pass --resume to continue it, or choose another --out or run.name");
  }
}

std::shared_ptr<FolderLock> RunDir::lock(const std::string& root, const std::string& name, const Spec& spec,
                                         bool resume) {
  check_can_open(root, name, spec, resume);
  const std::string path = (fs::path(root) / name).string();
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw FileError(path + ": cannot create the run folder: " + error.message());
  auto held = std::make_shared<FolderLock>(path, "a run");
  check_can_open(root, name, spec, resume);  // again: another process may have started it meanwhile
  return held;
}

RunDir RunDir::open(const std::string& root, const std::string& name, const Spec& spec, bool resume) {
  RunDir run;
  run.lock_ = lock(root, name, spec, resume);
  run.path_ = (fs::path(root) / name).string();
  run.resumed_ = resume;
  run.spec_ = &spec;
  const std::string spec_file = run.file("spec.ini");
  std::error_code error;
  fs::create_directories(fs::path(run.path_) / "checkpoints", error);
  if (error) throw FileError(run.path_ + ": cannot create the run folder: " + error.message());
  if (!resume) write_text_file(spec_file, spec.to_ini());
  return run;
}

RunDir RunDir::existing(const std::string& path) {
  RunDir run;
  run.path_ = path;
  run.resumed_ = true;
  return run;
}

void RunDir::write_run_json(const nlohmann::json& facts, int64_t update) const {
  const std::string path = file("run.json");
  nlohmann::ordered_json j = run_json_head(*spec_, facts);
  nlohmann::json history = nlohmann::json::array();
  if (resumed_ && fs::exists(path)) {
    try {
      const nlohmann::json old = nlohmann::json::parse(read_text_file(path));
      if (old.contains("history") && old["history"].is_array()) history = old["history"];
    } catch (const nlohmann::json::exception& e) {
      throw FileError(path + ": not readable JSON (" + std::string(e.what()) + "); move it away to resume");
    }
  }
  history.push_back({{"event", resumed_ ? "resume" : "start"}, {"time", utc_timestamp()}, {"update", update}});
  j["history"] = history;
  write_text_file(path, j.dump(2) + "\n");
}

void RunDir::write_run_json_at(const std::string& folder, const Spec& spec, const nlohmann::json& facts,
                               const std::string& event) {
  nlohmann::ordered_json j = run_json_head(spec, facts);
  j["history"] = nlohmann::json::array({{{"event", event}, {"time", utc_timestamp()}, {"update", 0}}});
  write_text_file(folder + "/run.json", j.dump(2) + "\n");
}

std::string RunDir::checkpoint_path(int64_t update) const {
  char name[32];
  std::snprintf(name, sizeof name, "update_%07lld.pt", static_cast<long long>(update));
  return (fs::path(path_) / "checkpoints" / name).string();
}

std::string RunDir::milestone_path(int64_t global_step) const {
  char name[40];
  std::snprintf(name, sizeof name, "step_%011lld.pt", static_cast<long long>(global_step));
  return (fs::path(path_) / "milestones" / name).string();
}

std::vector<std::string> RunDir::checkpoints() const { return checkpoints_in(fs::path(path_) / "checkpoints"); }

std::optional<std::string> RunDir::newest_checkpoint() const {
  const auto all = checkpoints();
  if (all.empty()) return std::nullopt;
  return all.back();
}

void RunDir::prune_checkpoints(int64_t keep) const {
  const auto all = checkpoints();
  for (size_t i = 0; i + static_cast<size_t>(std::max<int64_t>(1, keep)) < all.size(); ++i) fs::remove(all[i]);
}

std::string resolve_checkpoint(const std::string& run_dir_or_file) {
  if (fs::is_regular_file(run_dir_or_file)) return run_dir_or_file;
  const fs::path dir = fs::path(run_dir_or_file) / "checkpoints";
  if (!fs::is_directory(dir))
    throw FileError(run_dir_or_file + ": neither a checkpoint file nor a run folder with checkpoints/");
  const auto all = checkpoints_in(dir);
  if (all.empty()) throw FileError(dir.string() + ": no checkpoint (update_*.pt) yet");
  return all.back();
}

std::vector<Milestone> run_milestones(const std::string& run_dir) {
  const fs::path dir = fs::path(run_dir) / "milestones";
  if (!fs::is_directory(dir))
    throw FileError(run_dir + ": no milestones/ folder (train with run.milestone_every = N to keep them)");
  std::vector<Milestone> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.rfind("step_", 0) != 0 || e.path().extension() != ".pt") continue;
    const std::string digits = name.substr(5, name.size() - 8);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    out.push_back({std::stoll(digits), e.path().string()});
  }
  if (out.empty()) throw FileError(dir.string() + ": no milestone checkpoint (step_*.pt) yet");
  std::sort(out.begin(), out.end(),
            [](const Milestone& a, const Milestone& b) { return a.global_step < b.global_step; });
  return out;
}

}  // namespace shardlab
