// The one training loop every learner runs on (agents/learner.h), online or offline. What differs
// is the batch source: rollouts of the vector environment (agents/trainer.h) or samples of a
// dataset (offline/offline_run.h). The loop does the rest, the same way for both: the sampling
// stream shared by source and learner, saved in the checkpoint and reseeded per rank; resume; the
// learner's metrics averaged over a row's updates and merged over ranks; the rows, checkpoints,
// videos, milestones and progress of the run folder (agents/training_run.h).
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "agents/learner.h"
#include "agents/training_run.h"

namespace shardlab {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // The checkpoint part and random stream (mixed into run.seed) of the sampling generator the
  // source and the learner share.
  virtual std::string generator_part() const = 0;
  virtual uint64_t generator_stream() const = 0;
  // The parts a resume needs beyond the learner's (observation normalisers).
  virtual void add_parts(Checkpoint& checkpoint) = 0;
  // The metrics.csv columns after the run's own, placing the learner's among the source's.
  virtual std::vector<std::string> columns(const std::vector<std::string>& learner_metrics) const = 0;
  // The run's facts for run.json (the learner's name, the data's size).
  virtual nlohmann::json facts() const = 0;
  // Called once the checkpoint is restored (or not, on a fresh run) and metrics.csv is open:
  // starts the environments.
  virtual void start(const TrainingRun& run) = 0;
  // The run's rows of metrics.csv, and the learner's updates in row `row` (from 1).
  virtual int64_t rows() const = 0;
  virtual int64_t updates_in_row(int64_t row) const = 0;
  // Steps each update adds to global_step: environment steps over every rank, or 1.
  virtual int64_t steps_per_update() const = 0;
  // The next batch for the learner, drawn with `gen`.
  virtual Batch next(Learner& learner, at::Generator& gen) = 0;
  // Fills the source's columns of finished row `row` (merged over `ranks`: every rank calls it
  // together) into `values` and returns the progress line's text.
  virtual std::string finish_row(int64_t row, Learner& learner, std::map<std::string, double>& values,
                                 const Collective& ranks) = 0;
  // After the last row, or when training stops on an error (closes the experience file).
  virtual void finish() {}
};

// Runs `learner` on batches of `source` to the end of the run, resuming `run` when it was opened
// with --resume. Throws NonFiniteLoss naming the last good checkpoint when a loss diverges.
void run_learner(TrainingRun& run, Learner& learner, BatchSource& source);

}  // namespace shardlab
