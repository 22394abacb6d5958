// The steps every learner's loop shares, online (PPO, REINFORCE) or offline: the run folder,
// the checkpoint of named parts with the run's own counters, metrics.csv with declared columns,
// the progress line, and the order that makes a killed run resume cleanly (the metrics row, then
// the checkpoint; a resume drops the rows past its checkpoint, so every update keeps one row).
// With run.video_every, also a video of the policy (checkpoint part "model") every K updates
// (agents/video.h), from a copy of it, so training's numbers stay the same. With
// run.milestone_every, also a kept checkpoint each time the steps pass a multiple of it, and one of
// the untrained network (analysis/milestones.h).
#pragma once

#include <ATen/Device.h>

#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agents/checkpoint.h"
#include "agents/collective.h"
#include "agents/run_dir.h"
#include "agents/video.h"
#include "core/metrics_csv.h"
#include "core/progress.h"

namespace shardlab {

class Spec;

struct TrainOptions {
  std::string out_root = "runs";
  std::string run_name;             // folder name under out_root
  bool resume = false;              // continue the run in that folder from its newest checkpoint
  Collective ranks = Collective();  // a data-parallel run's ranks (a world of one by default)
};

// In a data-parallel run only rank 0 (the leader) has the run folder: it writes the metrics, the
// progress line and the checkpoints; the other ranks keep the counters and take rank 0's state.
class TrainingRun {
 public:
  // Opens (or resumes) the run folder on the leader, sets torch's thread count, picks the device.
  TrainingRun(const Spec& spec, const TrainOptions& options);

  const RunConfig& config() const { return config_; }
  const Collective& ranks() const { return ranks_; }
  // The run folder: the leader's only (Error on another rank).
  const RunDir& dir() const;
  at::Device device() const { return device_; }
  // The learner adds its parts (modules, optimizers, generators, normalisers); the run adds its
  // counters "update", "global_step" and "time_s".
  Checkpoint& checkpoint() { return checkpoint_; }
  int64_t update() const { return update_; }
  int64_t global_step() const { return global_step_; }

  // On --resume: loads the newest checkpoint into every part and returns its path ("" when the
  // run has none yet, said on stderr). Then, with several ranks, every rank takes the leader's
  // parts (resumed or freshly initialised), so all start from rank 0's parameters.
  std::string restore();
  // Writes run.json with the learner's facts and opens metrics.csv with these columns (rows past
  // the restored checkpoint dropped). The columns "global_step", "update", "time_s" come first.
  // With run.video_every, first checks that the policy can play the spec's environment
  // (InputError if not: an offline dataset of another environment).
  void start(const std::vector<std::string>& columns, const nlohmann::json& facts);

  // Ends update `update` (steps now `global_step`): fills the run's columns, writes the row, saves
  // a checkpoint when due (every run.checkpoint_every updates and at `last`), records a video when
  // due (every run.video_every updates), redraws progress.
  void finish_update(int64_t update, int64_t global_step, std::map<std::string, double> row, int64_t total_steps,
                     const std::string& progress_extra, bool last);
  // Training time of this run over all its sessions, in seconds.
  double elapsed() const;
  // Steps per second of this session, at `global_step`.
  double steps_per_second(int64_t global_step) const;

 private:
  const Spec& spec_;
  RunConfig config_;
  VideoConfig videos_;
  Collective ranks_;
  std::optional<RunDir> dir_;
  at::Device device_;
  Checkpoint checkpoint_;
  int64_t update_ = 0, global_step_ = 0;
  double time_s_ = 0;  // training time before this session
  std::unique_ptr<MetricsCsv> metrics_;
  std::unique_ptr<Progress> progress_;
  std::string restore_from_folder();
  // Saves the checkpoint (with the run's training time so far) to `path`.
  void save(const std::string& path);
  // The checkpoint as milestones/step_<global step>.pt (run.milestone_every).
  void save_milestone();
  // The acting policy as the checkpoint holds it now, copied.
  LoadedPolicy current_policy() const;
};

}  // namespace shardlab
