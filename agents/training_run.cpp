#include "agents/training_run.h"

#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/spec.h"

namespace shardlab {
namespace {

at::Device pick_device(const std::string& name) {
  if (name == "cuda" && !torch::cuda::is_available())
    throw InputError("run.device = cuda, but this libtorch has no CUDA device available; use cpu");
  return at::Device(name == "cuda" ? at::kCUDA : at::kCPU);
}

}  // namespace

TrainingRun::TrainingRun(const Spec& spec, const TrainOptions& options)
    : spec_(spec),
      config_(RunConfig::from_spec(spec)),
      videos_(VideoConfig::from_spec(spec)),
      ranks_(options.ranks),
      dir_(ranks_.leader()
               ? std::optional<RunDir>(RunDir::open(options.out_root, options.run_name, spec, options.resume))
               : std::nullopt),
      device_(pick_device(config_.device)) {
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (!ranks_.distributed() && cores > 0 && config_.threads > cores)
    std::cerr << "shardlab: warning: run.threads = " << config_.threads << " on " << cores
              << " cores: the threads will oversubscribe them\n";
  at::set_num_threads(static_cast<int>(config_.threads));
  checkpoint_.add("update", update_);
  checkpoint_.add("global_step", global_step_);
  checkpoint_.add("time_s", time_s_, /*optional=*/true);  // first-format checkpoints lack it
  progress_ = std::make_unique<Progress>("train " + options.run_name);
}

const RunDir& TrainingRun::dir() const {
  if (!dir_) throw Error("rank " + std::to_string(ranks_.rank()) + " has no run folder (only rank 0 writes it)");
  return *dir_;
}

std::string TrainingRun::restore() {
  const std::string path = ranks_.leader() ? restore_from_folder() : "";
  if (ranks_.distributed()) {
    std::string state = ranks_.leader() ? checkpoint_.to_bytes(spec_.to_ini()) : "";
    ranks_.broadcast(state);
    if (!ranks_.leader()) checkpoint_.load_bytes(state, "rank 0's training state");
  }
  progress_->count_from(global_step_);
  return path;
}

std::string TrainingRun::restore_from_folder() {
  const RunDir& folder = dir();
  if (!folder.resumed()) return "";
  const std::vector<std::string> saved = folder.checkpoints();
  if (saved.empty()) {
    std::cerr << folder.path() << " has no checkpoint yet; starting it over\n";
    return "";
  }
  // A checkpoint that does not load (a damaged header or content, an empty file: in a run folder
  // shardlab wrote each of them whole, so any of these is damage) is set aside, renamed to a name
  // no earlier one has, never deleted, and the one before it is used.
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
    try {
      checkpoint_.load(*it);
    } catch (const FileError& e) {
      const std::string kept = free_name(*it + ".corrupt");
      std::error_code error;
      std::filesystem::rename(*it, kept, error);
      if (error) throw FileError(std::string(e.what()) + "; and it cannot be set aside: " + error.message());
      std::cerr << "shardlab: " << e.what() << "; set aside as " << kept
                << (std::next(it) != saved.rend() ? ", resuming from the previous checkpoint\n" : "\n");
      continue;
    }
    std::cerr << "resuming " << folder.path() << " from " << *it << " (update " << update_ << ", step " << global_step_
              << ")\n";
    return *it;
  }
  throw FileError(folder.path() + ": every checkpoint is corrupt (set aside as *.corrupt); start a new run");
}

void TrainingRun::start(const std::vector<std::string>& columns, const nlohmann::json& facts) {
  if (!ranks_.leader()) return;
  nlohmann::json all = facts;
  all["world_size"] = ranks_.world_size();
  if (videos_.every > 0) {
    try {
      current_policy();
    } catch (const Error& e) {
      throw InputError("run.video_every = " + std::to_string(videos_.every) + ": this run's policy cannot play " +
                       spec_.get_string("env.name") + " (" + e.what() + "); set run.video_every = 0");
    }
  }
  // The untrained network as milestone 0: each milestone measure's chance level.
  if (config_.milestone_every > 0 && global_step_ == 0) save_milestone();
  metrics_ = std::make_unique<MetricsCsv>(dir_->file("metrics.csv"), columns, dir_->resumed() ? global_step_ : -1);
  dir_->write_run_json(all, update_);
}

void TrainingRun::save(const std::string& path) {
  const double session = progress_->seconds();
  time_s_ += session;  // the checkpoint stores the run's training time so far
  checkpoint_.save(path, spec_.to_ini());
  time_s_ -= session;
}

void TrainingRun::save_milestone() {
  const std::string path = dir_->milestone_path(global_step_);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error) throw FileError(path + ": cannot create the milestones folder: " + error.message());
  save(path);
}

LoadedPolicy TrainingRun::current_policy() const {
  return load_policy_bytes(checkpoint_.to_bytes(spec_.to_ini()), spec_, dir_->path() + " (the policy in training)");
}

double TrainingRun::elapsed() const { return time_s_ + progress_->seconds(); }

double TrainingRun::steps_per_second(int64_t global_step) const {
  return progress_->rate(global_step);
}

void TrainingRun::finish_update(int64_t update, int64_t global_step, std::map<std::string, double> row,
                                int64_t total_steps, const std::string& progress_extra, bool last) {
  const int64_t previous_step = global_step_;
  update_ = update;
  global_step_ = global_step;
  row["global_step"] = static_cast<double>(global_step);
  row["update"] = static_cast<double>(update);
  row["time_s"] = elapsed();
  if (!ranks_.leader()) return;
  // The row before the checkpoint: a kill between them leaves a row past the newest checkpoint,
  // which the resume drops and writes again. (The other order lost the row of an update whose
  // checkpoint was saved just before the kill.)
  metrics_->write(row);
  // The video before the checkpoint too: a kill between them redoes the update and its video.
  if (videos_.every > 0 && update % videos_.every == 0)
    record_training_video(spec_, current_policy(), dir_->path(), update);
  // A milestone each time the steps pass a multiple of run.milestone_every; before the periodic
  // checkpoint, so a kill between them redoes the update and writes the same milestone again.
  const int64_t every = config_.milestone_every;
  if (every > 0 && global_step / every > previous_step / every) save_milestone();
  if (update % config_.checkpoint_every == 0 || last) {
    save(dir_->checkpoint_path(update));
    dir_->prune_checkpoints(config_.keep_checkpoints);
  }
  if (last)
    progress_->finish(global_step, total_steps, progress_extra);
  else
    progress_->update(global_step, total_steps, progress_extra);
}

}  // namespace shardlab
