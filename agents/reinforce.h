// REINFORCE (Williams 1992): loss = -log pi(a_t|s_t) (G_t - b(s_t)) over the steps of episodes
// that ended inside the rollout, G_t the Monte-Carlo return; optional learned value or
// batch-mean baseline. Same actor-critic, rollouts and run machinery as PPO.
#pragma once

#include <torch/optim/adam.h>

#include <map>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/rollout.h"
#include "agents/train_config.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct ReinforceConfig {
  std::string baseline = "value";  // value | mean | none

  static void declare_keys(SpecSchema& schema);
  static ReinforceConfig from_spec(const Spec& spec);
};

// The metrics reinforce_update returns, in metrics.csv order.
const std::vector<std::string>& reinforce_metrics();

std::map<std::string, double> reinforce_update(ActorCriticImpl& net, torch::optim::Adam& optimizer,
                                               const Rollout& rollout, const TrainConfig& c,
                                               const ReinforceConfig& r, at::Device device, const Collective& ranks);

}  // namespace shardlab
