#include "offline/bc.h"

#include <torch/torch.h>

#include <cmath>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "core/error.h"
#include "core/spec.h"
#include "offline/atac.h"

namespace shardlab {

template <class Keys>
void BcConfig::bind(Keys& keys) {
  keys("bc.learning_rate", learning_rate,
       "Adam step size of the policy and its temperature (5e-4: ATAC's warm-start rate, atac.warmup_lr)")
      .above(0);
  keys("bc.objective", objective,
       "warm_start: ATAC's actor warm start, normalized_sum(-log-likelihood, -entropy, alpha) with alpha tuned "
       "toward the target entropy; likelihood: -log-likelihood - bc.entropy_coef * entropy",
       {"warm_start", "likelihood"});
  keys("bc.entropy_coef", entropy_coef, "bc.objective = likelihood: weight of the policy-entropy bonus").at_least(0);
  keys("bc.discrete_entropy_fraction", discrete_entropy_fraction,
       "bc.objective = warm_start, discrete actions: target entropy = this fraction of log(num_actions) "
       "(as atac.discrete_entropy_fraction)")
      .at_least(0)
      .at_most(1);
}

void BcConfig::declare_keys(SpecSchema& s) { declare_keys_of<BcConfig>(s); }

BcConfig BcConfig::from_spec(const Spec& spec) {
  BcConfig c = read_keys<BcConfig>(spec);
  if (c.objective == "warm_start" && c.entropy_coef != 0.0)
    throw InputError("bc.entropy_coef = " + std::to_string(c.entropy_coef) +
                     ": it weighs the entropy only with bc.objective = likelihood (warm_start tunes its own alpha)");
  return c;
}

BcLearner::BcLearner(const LearnerContext& context, const BcConfig& config) : config_(config), ranks_(context.ranks) {
  const ActionSpec& act = context.action_spec;
  net_ = ActorCritic(NetworkConfig::from_spec(context.spec), context.observation_spec, act, context.init);
  if (config_.objective == "warm_start") {  // ATAC's actor as its warm start has it: atac.actor_init, atac.entropy
    const AtacConfig atac = AtacConfig::from_spec(context.spec);
    atac_init_actor(*net_, atac, context.init);
    density_dims_ = atac_density_dims(atac, act);
  }
  target_entropy_ = act.discrete ? config_.discrete_entropy_fraction * std::log(static_cast<double>(act.num_actions))
                                 : -static_cast<double>(act.dim);
  temperature_ = std::make_shared<torch::nn::Module>();
  log_alpha_ = temperature_->register_parameter("log_alpha", torch::zeros({1}));
  net_->to(context.device);
  temperature_->to(context.device);
  optimizer_ =
      std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(config_.learning_rate));
  alpha_optimizer_ = std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{log_alpha_},
                                                          torch::optim::AdamOptions(config_.learning_rate));
}

std::vector<std::string> BcLearner::metrics() const {
  return {"losses/bc_loss", "losses/log_likelihood", "losses/entropy", "losses/alpha_loss", "charts/alpha"};
}

void BcLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("optimizer", *optimizer_);
  checkpoint.add("temperature", *temperature_);
  checkpoint.add("temperature_optimizer", *alpha_optimizer_);
}

double BcLearner::alpha() const { return log_alpha_.exp().item<double>(); }

at::Tensor BcLearner::entropy(const at::Tensor& logits_or_mean, at::Generator& gen) const {
  if (net_->action_spec().discrete) {
    const at::Tensor logp = torch::log_softmax(logits_or_mean, 1);
    return -(logp.exp() * logp).sum(1).mean();
  }
  return -rsample_action(*net_, logits_or_mean, gen).log_prob.mean() / density_dims_;
}

std::map<std::string, double> BcLearner::update(const Batch& given, int64_t step, at::Generator& gen) {
  const Transitions& batch = transitions_of(given, "bc");
  const PolicyOutput out = net_->forward(batch.observations);
  const bool warm_start = config_.objective == "warm_start";
  const at::Tensor actions = warm_start ? atac_data_actions(*net_, batch.actions) : batch.actions;
  const at::Tensor log_likelihood = log_prob_of(*net_, out.logits_or_mean, actions).mean() / density_dims_;
  at::Tensor loss, entropy_now, alpha_loss;
  double alpha = 0;
  if (warm_start) {
    // The temperature first, then the actor with the updated alpha (the warm start's order).
    entropy_now = entropy(out.logits_or_mean, gen);
    alpha_loss = (log_alpha_ * (entropy_now.detach() - target_entropy_)).sum();
    gradient_step(
        alpha_loss,
        [&] {
          return std::map<std::string, double>{{"alpha_loss", alpha_loss.item<double>()}};
        },
        *alpha_optimizer_, ranks_);
    alpha = this->alpha();
    loss = normalized_sum(-log_likelihood, -entropy_now, alpha);
  } else {
    entropy_now = entropy_of(*net_, out.logits_or_mean).mean();
    alpha_loss = torch::zeros({}, log_likelihood.options());
    loss = -log_likelihood - config_.entropy_coef * entropy_now;
  }
  const at::Tensor stats =
      torch::stack({loss.detach(), log_likelihood.detach(), entropy_now.detach(), alpha_loss.detach().reshape({})})
          .to(torch::kFloat64)
          .cpu();
  const double* s = stats.data_ptr<double>();
  const std::map<std::string, double> values = {{"losses/bc_loss", s[0]},
                                                {"losses/log_likelihood", s[1]},
                                                {"losses/entropy", s[2]},
                                                {"losses/alpha_loss", s[3]},
                                                {"charts/alpha", alpha}};
  gradient_step(
      loss,
      [&] {
        return std::map<std::string, double>{{"bc_loss", s[0]}, {"log_likelihood", s[1]}, {"entropy", s[2]}};
      },
      *optimizer_, ranks_);
  return values;
}

}  // namespace shardlab
