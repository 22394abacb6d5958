// Proximal Policy Optimization (Schulman et al. 2017) with the core details of "The 37
// Implementation Details of PPO"; reads top to bottom like CleanRL's ppo.py update.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/optim/adam.h>

#include <map>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/collective.h"
#include "agents/gradient_step.h"
#include "agents/online_learner.h"
#include "agents/rollout.h"
#include "agents/train_config.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct PpoConfig {
  double gae_lambda = 0.95;
  int64_t num_minibatches = 8;  // per epoch; they cover the whole rollout
  int64_t update_epochs = 3;
  bool norm_adv = true;  // per minibatch
  double clip_coef = 0.2;
  bool clip_vloss = true;  // CleanRL on, SB3 off
  double target_kl = 0.0;  // stop an update's epochs above this approx KL; 0: off

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static PpoConfig from_spec(const Spec& spec);
};

// GAE(lambda) advantages and returns (= advantages + values), bootstrapping from V(s') on
// truncation and not on termination (detail 5). Shapes (T, N).
void compute_gae(const Rollout& r, double gamma, double lambda, at::Tensor& advantages, at::Tensor& returns);

// The metrics ppo_update returns, in metrics.csv order.
const std::vector<std::string>& ppo_metrics();

// One PPO update on this rank's rollout; returns the CleanRL loss metrics (losses/...). With
// several ranks, each minibatch's gradient is averaged over them (each rank draws its own
// minibatches; advantages are normalised per rank's minibatch, as in CleanRL's multi-GPU PPO)
// and the KL early stop is decided on the ranks' mean KL.
std::map<std::string, double> ppo_update(ActorCriticImpl& net, torch::optim::Adam& optimizer, const Rollout& rollout,
                                         const TrainConfig& train, const PpoConfig& c, at::Generator& gen,
                                         at::Device device, const Collective& ranks);

// PPO as a learner of the run loop (agents/learner.h).
class PpoLearner : public RolloutLearner {
 public:
  explicit PpoLearner(const LearnerContext& context);
  // Checks the ppo.* keys; one gradient step holds a minibatch of the rollout.
  static GradientLoad load(const Spec& spec, int64_t rollout_rows);

 protected:
  std::vector<std::string> losses() const override { return ppo_metrics(); }
  std::map<std::string, double> learn(const Rollout& rollout, at::Generator& gen) override;

 private:
  PpoConfig config_;
};

double explained_variance(const at::Tensor& predicted, const at::Tensor& target);

}  // namespace shardlab
