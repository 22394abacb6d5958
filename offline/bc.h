// Behaviour cloning: maximise the log-likelihood of the dataset's actions under the policy
// (categorical, Gaussian or tanh-Gaussian, whichever agent.policy_head builds), optionally plus
// an entropy bonus. The baseline every pessimistic learner is compared with.
#pragma once

#include <torch/optim/adam.h>

#include <memory>

#include "offline/learner.h"

namespace shardlab {

struct BcConfig {
  // Adam step size. 1e-3 rather than the 3e-4 of the actor-critic learners: BC is a plain
  // supervised regression with a stationary target, so the larger step converges faster and
  // stays stable (the usual default for supervised Adam).
  double learning_rate = 1e-3;
  double entropy_coef = 0.0;  // loss = -mean log pi(a|s) - entropy_coef * mean entropy

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static BcConfig from_spec(const Spec& spec);
};

class BcLearner : public Learner {
 public:
  BcLearner(const LearnerContext& context, const BcConfig& config);
  ActorCritic policy() override { return net_; }
  std::vector<std::string> metrics() const override;
  void add_parts(Checkpoint& checkpoint) override;
  std::map<std::string, double> update(const Batch& given, int64_t step, at::Generator& gen) override;

 private:
  BcConfig config_;
  at::Device device_;
  Collective ranks_;
  ActorCritic net_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

}  // namespace shardlab
