// Online learners: update rules over rollouts of the actor-critic (agents/learner.h), registered
// by name in agents/online_learner.cpp. Adding one means writing a RolloutLearner (its update and
// its keys) and one registration line; the rollouts, run folder, checkpoints and metrics
// (agents/trainer.cpp, agents/learner_loop.h) stay untouched.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agents/learner.h"
#include "agents/train_config.h"

namespace shardlab {

// The part every online learner shares: the actor-critic and its Adam optimizer (checkpoint
// parts "model" and "optimizer"), and the learning rate of train.learning_rate, annealed linearly
// to 0 over the run with train.anneal_lr (column charts/learning_rate).
class RolloutLearner : public Learner {
 public:
  RolloutLearner(const LearnerContext& context, std::string name);
  ActorCritic policy() override { return net_; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& batch, int64_t step, at::Generator& gen) final;

 protected:
  // The losses/... columns learn() returns, in metrics.csv order.
  virtual std::vector<std::string> losses() const = 0;
  // One update of net_ with optimizer_ on this rank's rollout.
  virtual std::map<std::string, double> learn(const Rollout& rollout, at::Generator& gen) = 0;

  std::string name_;
  TrainConfig train_;
  at::Device device_;
  Collective ranks_;
  int64_t total_updates_;
  ActorCritic net_;
  torch::optim::Adam optimizer_;
};

const std::vector<LearnerRegistration>& online_learners();
// Declares agent.algo and every registered online learner's keys.
void declare_online_learner_keys(SpecSchema& schema);

}  // namespace shardlab
