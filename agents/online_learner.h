// Online learners: update rules over rollouts of the actor-critic, registered by name like the
// environments. Adding one means writing its update and its keys and adding one registration
// below; the run folder, checkpoints, metrics and rollouts (agents/trainer.cpp) stay untouched.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/rollout.h"
#include "agents/train_config.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct OnlineLearner {
  std::string name;
  std::vector<std::string> metrics;  // the losses/... columns update() may return
  // One update on this rank's rollout; every rank of `ranks` calls it together (agents/collective.h).
  std::function<std::map<std::string, double>(ActorCriticImpl&, torch::optim::Adam&, const Rollout&, at::Generator&,
                                              const Collective&)>
      update;
};

struct OnlineLearnerRegistration {
  std::string name;
  std::string description;
  std::function<void(SpecSchema&)> declare_keys;
  std::function<OnlineLearner(const Spec&, const TrainConfig&, at::Device)> make;
};

const std::vector<OnlineLearnerRegistration>& online_learners();
// Declares agent.algo and every registered learner's keys.
void declare_online_learner_keys(SpecSchema& schema);
// The learner the spec's agent.algo names.
OnlineLearner make_online_learner(const Spec& spec, const TrainConfig& train, at::Device device);

}  // namespace shardlab
