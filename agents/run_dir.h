// A run folder, shared by every learner (PPO, REINFORCE, the offline learners):
//   DIR/<name>/spec.ini        the fully resolved spec
//   DIR/<name>/run.json        version, seed, threads, device, learner facts, start/resume history
//   DIR/<name>/metrics.csv     one row per update (core/metrics_csv.h)
//   DIR/<name>/checkpoints/    update_NNNNNNN.pt, the newest `run.keep_checkpoints` kept
//   DIR/<name>/milestones/     step_NNNNNNNNNNN.pt with run.milestone_every, never pruned
// It also declares the run.* spec keys.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace shardlab {

class FolderLock;
class Spec;
class SpecSchema;

// The run.* keys: what every training run shares, whatever it learns.
struct RunConfig {
  uint64_t seed = 0;              // every environment and policy RNG derives from it
  int64_t threads = 1;            // torch and collection threads, recorded with every run
  std::string name;               // folder name under --out (default: the spec file's name)
  std::string device = "cpu";     // cpu | cuda
  int64_t checkpoint_every = 10;  // updates between checkpoints (the last update always saves)
  int64_t keep_checkpoints = 3;   // periodic checkpoints kept
  int64_t milestone_every =
      0;  // > 0: also keep a checkpoint each time the steps (offline: gradient steps) pass a multiple
  bool save_experience = false;  // online learners: every transition to experience.h5

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static RunConfig from_spec(const Spec& spec);
};

class RunDir {
 public:
  // Opens the folder for writing, holding its lock (core/folder_lock.h) for as long as the RunDir
  // or a copy of it lives. A new run refuses an existing folder (one holding only the lock file
  // left by a run that failed before it started counts as free); a resumed one needs the
  // folder's spec.ini to match `spec` (InputError naming the keys that differ). The checks are
  // made again once the lock is held.
  static RunDir open(const std::string& root, const std::string& name, const Spec& spec, bool resume);
  // The checks of open() without creating anything (a launcher checks before it starts ranks).
  static void check_can_open(const std::string& root, const std::string& name, const Spec& spec, bool resume);
  // Creates (for a new run) and locks the run folder, then checks it as open() does: what a
  // launcher holds while its ranks run (FolderLock::pass_to_children lets rank 0 open it).
  static std::shared_ptr<FolderLock> lock(const std::string& root, const std::string& name, const Spec& spec,
                                          bool resume);
  // An existing run folder, to read its checkpoints (no lock, no spec check).
  static RunDir existing(const std::string& path);

  const std::string& path() const { return path_; }
  bool resumed() const { return resumed_; }
  // A file inside the run folder.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes run.json: `facts` (the learner's: algorithm, batch size, ...) with the version, the
  // spec's seed/threads/device and the history of starts and resumes, this one added at `update`.
  void write_run_json(const nlohmann::json& facts, int64_t update) const;
  // The same run.json in `folder` for a run made without training (an import): a history of one
  // `event` at update 0.
  static void write_run_json_at(const std::string& folder, const Spec& spec, const nlohmann::json& facts,
                                const std::string& event);

  std::string checkpoint_path(int64_t update) const;
  // The newest checkpoints/update_*.pt, if any.
  std::optional<std::string> newest_checkpoint() const;
  // Keeps the newest `keep` checkpoints.
  void prune_checkpoints(int64_t keep) const;
  // Every checkpoint, oldest first.
  std::vector<std::string> checkpoints() const;
  // The milestone checkpoint kept at `global_step` (milestones/step_NNNNNNNNNNN.pt).
  std::string milestone_path(int64_t global_step) const;

 private:
  std::string path_;
  bool resumed_ = false;
  const Spec* spec_ = nullptr;
  std::shared_ptr<FolderLock> lock_;
};

// The newest checkpoint of a run folder, or the file itself; FileError if there is none.
std::string resolve_checkpoint(const std::string& run_dir_or_file);

// A run folder's milestone checkpoints, by global step (oldest first); FileError if it has none.
struct Milestone {
  int64_t global_step = 0;
  std::string path;
};
std::vector<Milestone> run_milestones(const std::string& run_dir);

}  // namespace shardlab
