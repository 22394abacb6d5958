#include "agents/reinforce.h"

#include <torch/torch.h>

#include <cmath>

#include "agents/ppo.h"
#include "core/spec.h"

namespace shardlab {

template <class Keys>
void ReinforceConfig::bind(Keys& keys) {
  keys("reinforce.baseline", baseline, "REINFORCE baseline: value (learned), mean, none",
       {"value", "mean", "none"});
}

void ReinforceConfig::declare_keys(SpecSchema& s) { declare_keys_of<ReinforceConfig>(s); }

ReinforceConfig ReinforceConfig::from_spec(const Spec& spec) { return read_keys<ReinforceConfig>(spec); }

const std::vector<std::string>& reinforce_metrics() {
  static const std::vector<std::string> names = {"losses/policy_loss", "losses/value_loss", "losses/entropy",
                                                 "losses/explained_variance"};
  return names;
}

std::map<std::string, double> reinforce_update(ActorCriticImpl& net, torch::optim::Adam& optimizer,
                                               const Rollout& rollout, const TrainConfig& c, const ReinforceConfig& r,
                                               at::Device device, const Collective& ranks) {
  // Monte-Carlo returns G_t, computed backwards; steps whose episode has not ended by the end of
  // the rollout have no return yet and are left out of the loss.
  const int64_t T = rollout.rewards.size(0);
  at::Tensor returns = torch::zeros_like(rollout.rewards);
  at::Tensor valid = torch::zeros_like(rollout.rewards);
  at::Tensor g = torch::zeros_like(rollout.next_value);
  at::Tensor seen_end = torch::zeros_like(rollout.next_value);
  for (int64_t t = T - 1; t >= 0; --t) {
    const at::Tensor ended = (rollout.terminated[t] + rollout.truncated[t]).clamp_max(1.0);
    seen_end = torch::max(seen_end, ended);
    g = rollout.rewards[t] + c.gamma * (1.0 - ended) * g;
    returns[t] = g;
    valid[t] = seen_end;
  }
  const at::Tensor mask = valid.flatten().to(device);
  const at::Tensor g_flat = returns.flatten().to(device);
  // The steps with a return, and the sum of their returns, over every rank: the loss is the mean
  // over all ranks' steps (each rank divides by the count's share, and the gradient average
  // divides by the ranks), and a rollout with no finished episode anywhere is skipped by all.
  at::Tensor totals = torch::stack({mask.sum(), (g_flat * mask).sum()});
  ranks.sum(totals);
  const double count = totals[0].item<double>();
  if (count == 0) return {{"losses/policy_loss", std::nan("")}};
  const double share = count / static_cast<double>(ranks.world_size());

  const PolicyOutput out = net.forward(rollout.obs.flatten(0, 1).to(device));
  const at::Tensor log_prob = log_prob_of(net, out.logits_or_mean, rollout.actions.flatten(0, 1).to(device));
  const at::Tensor entropy = (entropy_of(net, out.logits_or_mean) * mask).sum() / share;

  at::Tensor baseline = torch::zeros_like(g_flat);
  at::Tensor v_loss = torch::zeros({}, g_flat.options());
  if (r.baseline == "value") {
    baseline = out.value.detach();
    v_loss = 0.5 * ((out.value - g_flat).pow(2) * mask).sum() / share;
  } else if (r.baseline == "mean") {
    baseline = (totals[1] / count).expand_as(g_flat);
  }
  const at::Tensor pg_loss = (-(log_prob * (g_flat - baseline)) * mask).sum() / share;
  const at::Tensor loss = pg_loss - c.ent_coef * entropy + c.vf_coef * v_loss;
  gradient_step(
      loss,
      [&] {
        return std::map<std::string, double>{{"policy_loss", pg_loss.item<double>()},
                                             {"value_loss", v_loss.item<double>()}};
      },
      optimizer, ranks, c.max_grad_norm);
  return {{"losses/policy_loss", pg_loss.item<double>()},
          {"losses/value_loss", v_loss.item<double>()},
          {"losses/entropy", entropy.item<double>()},
          {"losses/explained_variance",
           explained_variance(out.value.detach().masked_select(mask > 0), g_flat.masked_select(mask > 0))}};
}

ReinforceLearner::ReinforceLearner(const LearnerContext& context)
    : RolloutLearner(context, "reinforce"), config_(ReinforceConfig::from_spec(context.spec)) {}

GradientLoad ReinforceLearner::load(const Spec& spec, int64_t rollout_rows) {
  ReinforceConfig::from_spec(spec);
  return {rollout_rows, 1, "env.num_envs, train.num_steps"};
}

std::map<std::string, double> ReinforceLearner::learn(const Rollout& rollout, at::Generator&) {
  return reinforce_update(*net_, optimizer_, rollout, train_, config_, device_, ranks_);
}

}  // namespace shardlab
