// Checkpoints: the network, the optimizer, the sampling generator, the normalisers and the
// resolved spec, in one libtorch archive. A checkpoint is self-contained: evaluation and
// analysis rebuild the policy from the spec inside it.
#pragma once

#include <torch/optim/adam.h>

#include <string>

#include "agents/actor_critic.h"
#include "agents/normalization.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct CheckpointState {
  int64_t update = 0;
  int64_t global_step = 0;
  std::string spec_ini;  // the run's resolved spec
  bool normalize_observations = false;
  double observation_clip = 10.0;
  RunningMeanStd observation_stats{1};
  RunningMeanStd return_stats{1};
};

// Writes through a temporary name, so a killed process never leaves a partial checkpoint.
void save_checkpoint(const std::string& path, ActorCriticImpl& net, torch::optim::Adam& optimizer,
                     const at::Generator& gen, const CheckpointState& state);

// Restores a training run's state in place (the network must have the checkpoint's shape).
// Throws FileError naming the file on anything unreadable.
void load_checkpoint(const std::string& path, ActorCriticImpl& net, torch::optim::Adam* optimizer,
                     at::Generator* gen, CheckpointState& state);

// A trained policy ready to act: the network rebuilt from the checkpoint's own spec.
struct LoadedPolicy {
  ActorCritic net{nullptr};
  CheckpointState state;
  std::string path;
  // Observations as the network expects them (normalised with the training statistics).
  at::Tensor prepare(const float* obs, int64_t rows) const;
};
// `schema` reads the checkpoint's spec (the caller's full schema of keys).
LoadedPolicy load_policy(const std::string& path, const SpecSchema& schema);

// The newest checkpoint of a run folder, or the file itself; FileError if there is none.
std::string resolve_checkpoint(const std::string& run_dir_or_file);

}  // namespace shardlab
