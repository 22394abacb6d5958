// ATAC, the Adversarially Trained Actor Critic (Cheng, Xie, Jiang, Agarwal, ICML 2022), as the
// lightweight reference implementation does it (/work/shared/reference/offline.md).
// (Design choices: see the head comment of offline/atac.cpp.)
#pragma once

#include <torch/optim/adam.h>

#include <functional>
#include <memory>

#include "offline/learner.h"
#include "offline/q_network.h"
#include "offline/step_worker.h"

namespace shardlab {

struct AtacConfig {
  double beta = 1.0;  // Bellman weight of the critic's normalized_sum (the reference default)
  double gamma = 0.99;
  double tau = 5e-3;                   // Polyak rate of the target critic
  double target_bellman_weight = 0.5;  // w of w * target-Bellman + (1 - w) * residual-Bellman
  double critic_lr = 5e-4;             // the fast timescale
  double actor_lr = 5e-7;              // the slow timescale
  double alpha_lr = 5e-4;              // entropy temperature
  double init_log_alpha = 0.0;
  double norm_constraint = 100.0;          // Frobenius-norm bound of every critic weight matrix (0: off)
  bool clip_values = false;                // clip Bellman targets to [Vmin, Vmax] (needs the reward range)
  int64_t warmup_steps = 100000;           // BC actor + Bellman-only critic before ATAC proper
  double warmup_lr = 5e-4;                 // warm start: its own Adams for actor, critic and temperature
  int64_t hidden = 256;                    // critic width (continuous actions)
  int64_t layers = 3;                      // critic hidden layers (continuous actions)
  double discrete_entropy_fraction = 0.2;  // discrete target entropy = this * log(num_actions)
  bool fused = true;                       // continuous ATAC proper: gradients by hand (atac_fused.cpp)
  int64_t threads = 0;  // the fused step's halves side by side (2) or in order (1); 0: 2 with run.threads >= 2
  // Continuous actions (the reference's; the discrete analogue keeps its own rules):
  std::string entropy = "per_dimension";  // per_dimension (lightATAC) | per_action (the textbook sum)
  std::string actor_init = "pytorch";     // pytorch (lightATAC: nn.Linear defaults, std 1) | orthogonal (PPO's)
  std::string warmup_target = "initial";  // initial (lightATAC) | kept: ATAC proper's first target critic

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static AtacConfig from_spec(const Spec& spec);
};

// normalized_sum(x, reg, w) = x / w + reg if w > 1, else x + w * reg.
at::Tensor normalized_sum(const at::Tensor& x, const at::Tensor& reg, double w);

// ATAC's actor as its warm start trains it, shared with BC's warm_start objective (offline/bc.h):
// - atac_init_actor: atac.actor_init = pytorch redraws a continuous policy's linear layers with
//   nn.Linear's defaults (ActorCriticImpl::init_linear_defaults); orthogonal keeps them.
// - atac_density_dims: what divides a log-density summed over action dimensions: |A| with
//   atac.entropy = per_dimension on continuous actions (lightATAC's per-dimension mean), else 1.
// - atac_data_actions: a tanh_gaussian policy's dataset actions clipped to |a| <= 1 - 1e-6, as
//   lightATAC's main.py clips them for every use; other policies' unchanged.
void atac_init_actor(ActorCriticImpl& net, const AtacConfig& config, at::Generator& init);
double atac_density_dims(const AtacConfig& config, const ActionSpec& action_spec);
at::Tensor atac_data_actions(const ActorCriticImpl& net, const at::Tensor& actions);

// Vmin and Vmax of the value clipping, from the dataset's reward range.
std::pair<double, double> atac_value_bounds(double reward_min, double reward_max, double gamma);

// The actor's linear layers as the fused update reads them: the MLP torso's, then fc_policy's
// (weights (out, in), biases (out)); the value head is left out.
struct AtacFusedActor {
  std::vector<at::Tensor> weights, biases;
};
AtacFusedActor fused_actor_of(ActorCriticImpl& net);

// The actor's reparameterised sample at s as the fused step keeps it.
struct AtacFusedSample {
  at::Tensor noise, log_std_raw, std, action;  // (batch, dim); log_std_raw before the clamp
  at::Tensor log_prob;                         // (batch,), summed over dimensions
  MlpTape tape;                                // the actor's layers' inputs
};

// The critic's loss terms on one batch: per head, and summed over the heads in `loss`.
struct AtacCriticLoss {
  at::Tensor loss;       // normalized_sum(pessimism, bellman, beta), or bellman alone in warm-up
  at::Tensor bellman;    // (2,) w MSE(Q_i, y) + (1 - w) MSE(Q_i, y_i)
  at::Tensor pessimism;  // (2,) mean(Q_i(s, a_pi) - Q_i(s, a)); undefined in a continuous warm start (not needed)
  at::Tensor q_data;     // (2, batch) Q_i(s, a), detached
};

// The actor's loss terms.
struct AtacActorLoss {
  at::Tensor loss;
  at::Tensor q_policy;  // mean Q_2(s, a_pi)
  at::Tensor entropy;   // AtacLearner::entropy_estimate
};

class AtacLearner : public Learner {
 public:
  AtacLearner(const LearnerContext& context, const AtacConfig& config);
  ~AtacLearner() override;
  ActorCritic policy() override { return net_; }
  int64_t warm_start_steps() const override { return config_.warmup_steps; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& given, int64_t step, at::Generator& gen) override;

  // The critic's loss given the policy's actions, exposed so tests check it by hand.
  // Continuous: next_policy = a' ~ pi(s') (batch, dim), policy = a_pi ~ pi(s) (batch, dim).
  // Discrete: next_policy = pi(. | s') and policy = pi(. | s), probabilities (batch, num_actions):
  // every Q(s, a_pi) becomes the expectation sum_a pi(a|s) Q(s, a).
  AtacCriticLoss critic_loss(const Transitions& batch, const at::Tensor& next_policy, const at::Tensor& policy,
                             bool warmup);
  // The actor's ATAC loss normalized_sum(-mean Q_2(s, a_pi), -entropy, alpha). Continuous: policy =
  // a_pi with gradient (batch, dim), log_prob its log pi (batch,), summed over dimensions.
  // Discrete: policy = pi(. | s) (batch, num_actions), log_prob = log pi(. | s) (batch, num_actions).
  AtacActorLoss actor_loss(const Transitions& batch, const at::Tensor& policy, const at::Tensor& log_prob,
                           double alpha);
  // The entropy that enters the actor's and the temperature's losses. Continuous: -mean log pi(a_pi|s)
  // over the batch, divided by the action dimension with atac.entropy = per_dimension (lightATAC's
  // Normal under a TanhTransform has per-dimension log-densities, and its .mean() averages them over
  // dimensions too); the target entropy is -|A| either way. Discrete: the exact categorical entropy.
  at::Tensor entropy_estimate(const at::Tensor& policy, const at::Tensor& log_prob) const;
  // Projects every critic weight matrix to the norm constraint.
  void project_critic();
  double alpha() const;  // exp(log_alpha) of ATAC proper
  double target_entropy() const { return target_entropy_; }

  ContinuousTwinQ continuous_q{nullptr}, continuous_q_target{nullptr};
  DiscreteTwinQ discrete_q{nullptr}, discrete_q_target{nullptr};
  // The critic's initial weights, kept through the warm start for ATAC proper's first target
  // (atac.warmup_target = initial with a warm start; else null).
  ContinuousTwinQ continuous_q_initial{nullptr};
  DiscreteTwinQ discrete_q_initial{nullptr};
  at::Tensor log_alpha;         // (1,): ATAC's temperature
  at::Tensor warmup_log_alpha;  // (1,): the warm start's own temperature

 private:
  struct Temperatures;
  at::Tensor clip(const at::Tensor& y) const;
  // y = clip(r + (1 - d) gamma E min(Qt1, Qt2)(s', pi)), without gradient.
  at::Tensor target_backup(const Transitions& batch, const at::Tensor& next_policy);
  // The loss terms from Q values (heads, batch): Q(s, a), Q(s', pi), Q(s, pi) (undefined in warm-up).
  AtacCriticLoss combine_critic_terms(const Transitions& batch, const at::Tensor& y, const at::Tensor& q_data,
                                      const at::Tensor& q_next, const at::Tensor& q_policy, bool warmup);
  // ATAC proper's continuous step with gradients by hand (offline/atac_fused.cpp).
  std::map<std::string, double> fused_update(const Transitions& batch, at::Generator& gen);
  // Its critic step: loss terms, gradients, Adam, projection and Polyak step, per head.
  AtacCriticLoss fused_critic_step(const Transitions& batch, const at::Tensor& next_action,
                                   const at::Tensor& policy_action);
  // Its actor step (after the temperature's); returns the loss and sets the lower bound.
  at::Tensor fused_actor_step(const Transitions& batch, const AtacFusedSample& pi, const at::Tensor& entropy,
                              double alpha, at::Tensor* lower_bound);
  // Runs the two on the worker and this thread (two threads: atac.threads), else one after the other.
  void halves(const std::function<void()>& first, const std::function<void()>& second);
  // The metrics one step returns; q_policy undefined in the warm start.
  static std::map<std::string, double> step_metrics(const AtacCriticLoss& critic, const at::Tensor& actor,
                                                    const at::Tensor& entropy, const at::Tensor& alpha_loss,
                                                    const at::Tensor& q_policy, double alpha, bool warmup);
  torch::nn::Module& q_module();
  torch::nn::Module& q_target_module();
  torch::nn::Module* q_initial_module();  // null when not kept
  // The batch as the reference trains on it: continuous data actions clipped into tanh's range.
  Transitions training_batch(const Batch& given) const;

  AtacConfig config_;
  Collective ranks_;
  ActionSpec action_spec_;
  double vmin_, vmax_;
  double target_entropy_;
  double density_dims_ = 1.0;  // divides a log-density summed over dimensions (atac.entropy)
  bool fused_ = false;         // atac.fused and a network the hand-written step covers
  AtacFusedActor fused_actor_;
  std::unique_ptr<StepWorker> worker_;  // two threads (atac.threads)
  ActorCritic net_{nullptr};
  std::unique_ptr<Temperatures> temperatures_;  // modules holding the log-temperatures, for checkpoints
  std::unique_ptr<torch::optim::Adam> critic_optimizer_, actor_optimizer_, alpha_optimizer_;
  std::unique_ptr<torch::optim::Adam> warmup_critic_optimizer_, warmup_actor_optimizer_, warmup_alpha_optimizer_;
};

}  // namespace shardlab
