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
// Rewards are NOT rescaled here. The paper rescales locomotion rewards by 1000 / (max - min
// trajectory return of the dataset); the learner only sees minibatches, not trajectory returns,
// and the relabeled rewards of the survival-instinct ablation make that scale undefined (zero
// rewards: max = min; constant or random rewards: a scale set by episode lengths alone). Rewards
// reach IQL as the dataset layer relabeled them.
#pragma once

#include <torch/optim/adam.h>

#include <memory>

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

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static IqlConfig from_spec(const Spec& spec);
};

// mean(|tau - 1(u < 0)| u^2).
at::Tensor expectile_loss(const at::Tensor& u, double tau);

class IqlLearner : public Learner {
 public:
  IqlLearner(const LearnerContext& context, const IqlConfig& config);
  ActorCritic policy() override { return net_; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& given, int64_t step, at::Generator& gen) override;

  // The actor's learning rate at gradient step `step` (1-based).
  double actor_lr_at(int64_t step) const;

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
  ActorCritic net_{nullptr};
  std::unique_ptr<torch::optim::Adam> q_optimizer_, v_optimizer_, actor_optimizer_;
};

}  // namespace shardlab
