// Behaviour cloning, the control of the survival-instinct ablation: by default exactly ATAC's
// actor warm start (lightATAC's BehaviorPretraining; offline/atac.cpp) on its own, so BC differs
// from ATAC only by what ATAC adds after the warm start. One update, top to bottom:
//   1. pi(s) with gradient; entropy H = -mean log pi(a_pi|s) of one reparameterised sample a_pi
//      (continuous), or the exact categorical entropy (discrete).
//   2. Temperature: loss = log_alpha * (H - target), target -|A| (continuous) or
//      bc.discrete_entropy_fraction x log |A| (discrete, as atac.discrete_entropy_fraction);
//      log alpha from 0; its own Adam at bc.learning_rate.
//   3. Actor: normalized_sum(-mean log pi(a|s), -H, alpha) on the dataset actions; Adam 5e-4
//      (atac.warmup_lr, the warm start's rate).
// As ATAC's warm start, it reads atac.actor_init (the policy's initialisation) and atac.entropy (H
// and log pi(a|s) per action dimension by default, lightATAC's), and clips a tanh-Gaussian's
// dataset actions as ATAC does: the shared atac_init_actor, atac_density_dims, atac_data_actions.
// bc.objective = likelihood is plain maximum likelihood minus bc.entropy_coef x entropy (the
// behaviour before; with bc.learning_rate = 1e-3 it is the old default). The policy is whatever
// agent.policy_head builds (categorical, Gaussian or tanh-Gaussian).
#pragma once

#include <torch/optim/adam.h>

#include <memory>

#include "offline/learner.h"

namespace shardlab {

struct BcConfig {
  // Adam step size of the policy and the temperature: ATAC's warm-start rate (atac.warmup_lr).
  double learning_rate = 5e-4;
  // warm_start: ATAC's warm-start actor loss with a tuned temperature; likelihood: -mean log pi(a|s)
  // - entropy_coef * mean entropy.
  std::string objective = "warm_start";
  double entropy_coef = 0.0;               // bc.objective = likelihood only
  double discrete_entropy_fraction = 0.2;  // warm_start, discrete actions: target entropy fraction of log |A|

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  // InputError when bc.entropy_coef is set with the warm_start objective (its weight is the tuned alpha).
  static BcConfig from_spec(const Spec& spec);
};

class BcLearner : public Learner {
 public:
  BcLearner(const LearnerContext& context, const BcConfig& config);
  ActorCritic policy() override { return net_; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& given, int64_t step, at::Generator& gen) override;

  double alpha() const;  // exp(log_alpha)
  double target_entropy() const { return target_entropy_; }

 private:
  // The policy's entropy on the batch: -mean log pi(a_pi|s) of a reparameterised sample, or the
  // exact categorical entropy.
  at::Tensor entropy(const at::Tensor& logits_or_mean, at::Generator& gen) const;

  BcConfig config_;
  Collective ranks_;
  double target_entropy_ = 0;
  double density_dims_ = 1.0;  // atac_density_dims with the warm_start objective, else 1
  ActorCritic net_{nullptr};
  std::shared_ptr<torch::nn::Module> temperature_;  // holds log_alpha, a checkpoint part
  at::Tensor log_alpha_;
  std::unique_ptr<torch::optim::Adam> optimizer_, alpha_optimizer_;
};

}  // namespace shardlab
