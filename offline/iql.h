// Implicit Q-Learning (Kostrikov, Nair, Levine, ICLR 2022) with the paper's locomotion settings
// (/work/shared/reference/offline.md). One update, top to bottom:
//   1. V(s) <- expectile regression (tau 0.7) onto min(Qt1, Qt2)(s, a) of the dataset action.
//   2. Q_i(s, a) <- MSE onto r + gamma (1 - d) V(s') (no policy action: never queries actions
//      outside the data).
//   3. Qt <- Polyak(Q, 0.005).
//   4. policy <- advantage-weighted regression: -mean(min(exp(3 (Qt(s, a) - V(s))), 100) log pi(a|s)).
// Adam 3e-4 everywhere; the actor's rate decays on a cosine over the run (context.total_steps).
// Discrete actions (the maze): Q(s, .) heads over the torso, V(s) = torso + Linear(1), a
// categorical policy and AWR on log pi(a|s).
//
// Rewards (iql.reward_scale = trajectory, the reference's default for locomotion): every reward
// is multiplied by 1000 / (max - min trajectory return) of the dataset as relabeled, the rewards
// the learner trains on (ikostrikov/implicit_q_learning, train_offline.py normalize), with the
// trajectories split as the reference splits them (offline/dataset.h, trajectory_returns). Rule
// for labels whose trajectory returns are all equal (the zero label; a dataset of one
// trajectory): the scale is undefined there, and the rewards are left unscaled (scale 1); for
// zero rewards every scale gives the same zeros. A learner made without a dataset file (batches
// given by hand) has no trajectories: scale 1. The scale is printed once and recorded as the
// metric charts/reward_scale. iql.reward_scale = none trains on the rewards as relabeled.
//
// Policy: the reference's is agent.policy_head = tanh_mean_gaussian (a Gaussian with mean
// tanh(.) and a state-independent log-std, not squashed; evaluation acts with the mean).
#pragma once

#include <torch/optim/adam.h>

#include <memory>
#include <vector>

#include "offline/learner.h"
#include "offline/q_network.h"

namespace shardlab {

struct IqlConfig {
  double expectile = 0.7;     // tau of the value's expectile loss (0.9 for antmaze)
  double temperature = 3.0;   // beta, the AWR inverse temperature
  double max_weight = 100.0;  // AWR weights clipped to this
  double gamma = 0.99;
  double tau = 0.005;       // Polyak rate of the target Q
  double critic_lr = 3e-4;  // Q and V
  double actor_lr = 3e-4;   // decays on a cosine to 0 over the run
  bool cosine_decay = true;
  int64_t hidden = 256;  // Q and V widths (continuous actions)
  int64_t layers = 2;
  std::string reward_scale = "trajectory";  // trajectory: 1000 / (max - min trajectory return); none

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static IqlConfig from_spec(const Spec& spec);
};

// mean(|tau - 1(u < 0)| u^2).
at::Tensor expectile_loss(const at::Tensor& u, double tau);

// 1000 / (max - min) of the trajectory returns; 1 when they are all equal or there are none.
double iql_reward_scale(const std::vector<double>& trajectory_returns);

class IqlLearner : public Learner {
 public:
  IqlLearner(const LearnerContext& context, const IqlConfig& config);
  ActorCritic policy() override { return net_; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& given, int64_t step, at::Generator& gen) override;

  // The actor's learning rate at gradient step `step` (1-based).
  double actor_lr_at(int64_t step) const;
  // The factor every reward is multiplied by (iql.reward_scale).
  double reward_scale() const { return reward_scale_; }
  // The AWR weights min(exp(beta (min(Qt1, Qt2)(s, a) - V(s))), max_weight) of a batch, without gradient.
  at::Tensor advantage_weights(const Transitions& batch);

  ContinuousTwinQ continuous_q{nullptr}, continuous_q_target{nullptr};  // continuous actions
  DiscreteTwinQ discrete_q{nullptr}, discrete_q_target{nullptr};        // discrete actions
  ValueNetwork value{nullptr};

 private:
  // Q_i(s, a) of the dataset actions, (2, batch), from the target or the trained critic.
  at::Tensor q_of(const Transitions& batch, bool target);
  torch::nn::Module& q_module();
  torch::nn::Module& q_target_module();

  IqlConfig config_;
  Collective ranks_;
  ActionSpec action_spec_;
  int64_t total_steps_;
  double reward_scale_ = 1.0;
  ActorCritic net_{nullptr};
  std::unique_ptr<torch::optim::Adam> q_optimizer_, v_optimizer_, actor_optimizer_;
};

}  // namespace shardlab
