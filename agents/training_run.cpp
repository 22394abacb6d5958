#include "agents/training_run.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

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
      dir_(RunDir::open(options.out_root, options.run_name, spec, options.resume)),
      device_(pick_device(config_.device)) {
  at::set_num_threads(static_cast<int>(config_.threads));
  checkpoint_.add("update", update_);
  checkpoint_.add("global_step", global_step_);
  checkpoint_.add("time_s", time_s_, /*optional=*/true);  // first-format checkpoints lack it
  progress_ = std::make_unique<Progress>("train " + options.run_name);
}

std::string TrainingRun::restore() {
  if (!dir_.resumed()) return "";
  const std::vector<std::string> saved = dir_.checkpoints();
  if (saved.empty()) {
    std::cerr << dir_.path() << " has no checkpoint yet; starting it over\n";
    return "";
  }
  // A corrupt checkpoint is set aside (renamed, never deleted) and the one before it is used.
  for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
    try {
      checkpoint_.load(*it);
    } catch (const CorruptFile& e) {
      const std::string kept = *it + ".corrupt";
      std::filesystem::rename(*it, kept);
      std::cerr << "shardlab: " << e.what() << "; set aside as " << kept
                << (std::next(it) != saved.rend() ? ", resuming from the previous checkpoint\n" : "\n");
      continue;
    }
    first_step_ = global_step_;
    std::cerr << "resuming " << dir_.path() << " from " << *it << " (update " << update_ << ", step " << global_step_
              << ")\n";
    return *it;
  }
  throw FileError(dir_.path() + ": every checkpoint is corrupt (set aside as *.corrupt); start a new run");
}

void TrainingRun::start(const std::vector<std::string>& columns, const nlohmann::json& facts) {
  metrics_ = std::make_unique<MetricsCsv>(dir_.file("metrics.csv"), columns, dir_.resumed() ? global_step_ : -1);
  dir_.write_run_json(facts, update_);
  first_step_ = global_step_;
}

double TrainingRun::elapsed() const { return time_s_ + progress_->seconds(); }

double TrainingRun::steps_per_second(int64_t global_step) const {
  return static_cast<double>(global_step - first_step_) / std::max(progress_->seconds(), 1e-9);
}

void TrainingRun::finish_update(int64_t update, int64_t global_step, std::map<std::string, double> row,
                                int64_t total_steps, const std::string& progress_extra, bool last) {
  update_ = update;
  global_step_ = global_step;
  row["global_step"] = static_cast<double>(global_step);
  row["update"] = static_cast<double>(update);
  row["time_s"] = elapsed();
  if (update % config_.checkpoint_every == 0 || last) {
    const double session = progress_->seconds();
    time_s_ += session;  // the checkpoint stores the run's training time so far
    checkpoint_.save(dir_.checkpoint_path(update), spec_.to_ini());
    time_s_ -= session;
    dir_.prune_checkpoints(config_.keep_checkpoints);
  }
  metrics_->write(row);
  if (last)
    progress_->finish(global_step, total_steps, progress_extra);
  else
    progress_->update(global_step, total_steps, progress_extra);
}

}  // namespace shardlab
