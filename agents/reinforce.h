// REINFORCE (Williams 1992): loss = -log pi(a_t|s_t) (G_t - b(s_t)) over the steps of episodes
// that ended inside the rollout, G_t the Monte-Carlo return; optional learned value or
// batch-mean baseline. Same actor-critic, rollouts and run machinery as PPO.
#pragma once

#include <torch/optim/adam.h>

#include <map>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/online_learner.h"
#include "agents/rollout.h"
#include "agents/train_config.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct ReinforceConfig {
  std::string baseline = "value";  // value | mean | none

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static ReinforceConfig from_spec(const Spec& spec);
};

// The metrics reinforce_update returns, in metrics.csv order.
const std::vector<std::string>& reinforce_metrics();

std::map<std::string, double> reinforce_update(ActorCriticImpl& net, torch::optim::Adam& optimizer,
                                               const Rollout& rollout, const TrainConfig& c, const ReinforceConfig& r,
                                               at::Device device, const Collective& ranks);

// REINFORCE as a learner of the run loop (agents/learner.h).
class ReinforceLearner : public RolloutLearner {
 public:
  explicit ReinforceLearner(const LearnerContext& context);
  // One gradient step holds the whole rollout.
  static GradientLoad load(const Spec& spec, int64_t rollout_rows);

 protected:
  std::vector<std::string> losses() const override { return reinforce_metrics(); }
  std::map<std::string, double> learn(const Rollout& rollout, at::Generator& gen) override;

 private:
  ReinforceConfig config_;
};

}  // namespace shardlab
