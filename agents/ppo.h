// Proximal Policy Optimization (Schulman et al. 2017) with the core details of "The 37
// Implementation Details of PPO"; reads top to bottom like CleanRL's ppo.py update.
#pragma once

#include <torch/optim/adam.h>

#include <map>
#include <string>

#include "agents/actor_critic.h"
#include "agents/rollout.h"
#include "agents/train_config.h"

namespace shardlab {

// A loss that is NaN or infinite: the run stops and keeps its last good checkpoint.
class NonFiniteLoss : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GAE(lambda) advantages and returns (= advantages + values), bootstrapping from V(s') on
// truncation and not on termination (detail 5). Shapes (T, N).
void compute_gae(const Rollout& r, double gamma, double lambda, at::Tensor& advantages, at::Tensor& returns);

// One PPO update on a rollout; returns the CleanRL loss metrics (losses/...).
std::map<std::string, double> ppo_update(ActorCriticImpl& net, torch::optim::Adam& optimizer, const Rollout& rollout,
                                         const TrainConfig& c, at::Generator& gen, at::Device device);

// One REINFORCE update: loss = -log pi(a_t|s_t) (G_t - b(s_t)) over steps of episodes that ended
// inside the rollout; G_t is the Monte-Carlo return. Optional learned value or batch-mean baseline.
std::map<std::string, double> reinforce_update(ActorCriticImpl& net, torch::optim::Adam& optimizer,
                                               const Rollout& rollout, const TrainConfig& c, at::Device device);

}  // namespace shardlab
