#include "offline/bc.h"

#include <torch/torch.h>

#include <cmath>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

template <class Keys>
void BcConfig::bind(Keys& keys) {
  keys("bc.learning_rate", learning_rate,
       "Adam step size of behaviour cloning (1e-3: a stationary supervised target takes the usual supervised rate)")
      .above(0);
  keys("bc.entropy_coef", entropy_coef, "weight of the policy-entropy bonus in the BC loss").at_least(0);
}

void BcConfig::declare_keys(SpecSchema& s) { declare_keys_of<BcConfig>(s); }

BcConfig BcConfig::from_spec(const Spec& spec) { return read_keys<BcConfig>(spec); }

BcLearner::BcLearner(const LearnerContext& context, const BcConfig& config)
    : config_(config), device_(context.device), ranks_(context.ranks) {
  net_ =
      ActorCritic(NetworkConfig::from_spec(context.spec), context.observation_spec, context.action_spec, context.init);
  net_->to(device_);
  optimizer_ =
      std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(config_.learning_rate));
}

std::vector<std::string> BcLearner::metrics() const {
  return {"losses/bc_loss", "losses/log_likelihood", "losses/entropy"};
}

void BcLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("optimizer", *optimizer_);
}

std::map<std::string, double> BcLearner::update(const Batch& given, int64_t step, at::Generator& gen) {
  const Transitions& batch = transitions_of(given, "bc");
  const PolicyOutput out = net_->forward(batch.observations);
  const at::Tensor log_likelihood = log_prob_of(*net_, out.logits_or_mean, batch.actions).mean();
  const at::Tensor entropy = entropy_of(*net_, out.logits_or_mean).mean();
  const at::Tensor loss = -log_likelihood - config_.entropy_coef * entropy;
  const double loss_v = loss.item<double>();
  const double ll_v = log_likelihood.item<double>();
  const double ent_v = entropy.item<double>();
  gradient_step(
      loss,
      [&] {
        return std::map<std::string, double>{{"bc_loss", loss_v}, {"log_likelihood", ll_v}, {"entropy", ent_v}};
      },
      *optimizer_, ranks_);
  return {{"losses/bc_loss", loss_v}, {"losses/log_likelihood", ll_v}, {"losses/entropy", ent_v}};
}

}  // namespace shardlab
