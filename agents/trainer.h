// `shardlab train`: an online learner (agents/online_learner.h) run by the one training loop
// (agents/learner_loop.h) on rollouts of this rank's share of the spec's environments, in its own
// run folder (agents/run_dir.h):
//   spec.ini, run.json, metrics.csv, checkpoints/update_NNNNNNN.pt
//   experience.h5    optional (run.save_experience): every transition in the shared format
#pragma once

#include <cstdint>
#include <string>

#include "agents/training_run.h"

namespace shardlab {

class Spec;

// Trains and returns the run folder. Throws InputError for bad specs or folders, NonFiniteLoss
// when training diverges (the last good checkpoint stays).
std::string train(const Spec& spec, const TrainOptions& options);

// Each rank's share of env.num_envs among `world_size` ranks; InputError when they cannot share
// them evenly, or when run.save_experience asks for one file from several ranks.
int64_t rank_envs(const Spec& spec, int64_t world_size);

}  // namespace shardlab
