// `shardlab train`: an online learner (agents/online_learner.h) trained on rollouts of the
// spec's environment, in its own run folder (agents/run_dir.h):
//   spec.ini, run.json, metrics.csv, checkpoints/update_NNNNNNN.pt
//   experience.h5    optional (run.save_experience): every transition in the shared format
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agents/training_run.h"

namespace shardlab {

class Spec;

// Trains and returns the run folder. Throws InputError for bad specs or folders, NonFiniteLoss
// when training diverges (the last good checkpoint stays).
std::string train(const Spec& spec, const TrainOptions& options);

// Each rank's share of env.num_envs among `world_size` ranks; InputError when they cannot share
// them evenly, or when run.save_experience asks for one file from several ranks.
int64_t rank_envs(const Spec& spec, int64_t world_size);

// The metrics.csv columns of an online run of this spec: the run's, the episodes' (with the
// environment's outcome rates), the learner's losses, then the wall-clock split.
std::vector<std::string> online_metric_columns(const Spec& spec);

}  // namespace shardlab
