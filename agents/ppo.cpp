#include "agents/ppo.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

template <class Keys>
void PpoConfig::bind(Keys& keys) {
  keys("ppo.gae_lambda", gae_lambda, "GAE lambda").at_least(0).at_most(1);
  keys("ppo.num_minibatches", num_minibatches, "minibatches per epoch (they cover the whole rollout)").at_least(1);
  keys("ppo.update_epochs", update_epochs, "epochs over each rollout").at_least(1);
  keys("ppo.norm_adv", norm_adv, "normalise advantages per minibatch");
  keys("ppo.clip_coef", clip_coef, "surrogate clipping coefficient").above(0);
  keys("ppo.clip_vloss", clip_vloss, "clip the value loss like the policy (CleanRL on, SB3 off)");
  keys("ppo.target_kl", target_kl, "stop an update's epochs when approx KL exceeds this (0: off)").at_least(0);
}

void PpoConfig::declare_keys(SpecSchema& s) { declare_keys_of<PpoConfig>(s); }

PpoConfig PpoConfig::from_spec(const Spec& spec) {
  PpoConfig c = read_keys<PpoConfig>(spec);
  int64_t batch = 0;
  if (__builtin_mul_overflow(spec.get_int("train.num_steps"), spec.get_int("env.num_envs"), &batch))
    throw InputError("train.num_steps = " + std::to_string(spec.get_int("train.num_steps")) + " x env.num_envs = " +
                     std::to_string(spec.get_int("env.num_envs")) + ": more rollout rows than can be counted");
  if (c.num_minibatches > batch)
    throw InputError("ppo.num_minibatches = " + std::to_string(c.num_minibatches) +
                     " is more than the rollout's rows (train.num_steps x env.num_envs = " + std::to_string(batch) +
                     "): each minibatch needs at least one row");
  return c;
}

double explained_variance(const at::Tensor& predicted, const at::Tensor& target) {
  const double var = target.var().item<double>();
  return var == 0.0 ? std::nan("") : 1.0 - (target - predicted).var().item<double>() / var;
}

void compute_gae(const Rollout& r, double gamma, double lambda, at::Tensor& advantages, at::Tensor& returns) {
  const int64_t T = r.rewards.size(0);
  advantages = torch::zeros_like(r.rewards);
  at::Tensor last = torch::zeros_like(r.next_value);
  for (int64_t t = T - 1; t >= 0; --t) {
    const at::Tensor next_value = t == T - 1 ? r.next_value : r.values[t + 1];
    const at::Tensor ended = (r.terminated[t] + r.truncated[t]).clamp_max(1.0);
    // Continue with V(s_{t+1}) inside an episode, V(final obs) on truncation, 0 on termination.
    const at::Tensor bootstrap = (1.0 - ended) * next_value + r.truncated[t] * r.final_values[t];
    const at::Tensor delta = r.rewards[t] + gamma * bootstrap - r.values[t];
    last = delta + gamma * lambda * (1.0 - ended) * last;
    advantages[t] = last;
  }
  returns = advantages + r.values;
}

const std::vector<std::string>& ppo_metrics() {
  static const std::vector<std::string> names = {"losses/policy_loss",       "losses/value_loss", "losses/entropy",
                                                 "losses/old_approx_kl",     "losses/approx_kl",  "losses/clipfrac",
                                                 "losses/explained_variance"};
  return names;
}

std::map<std::string, double> ppo_update(ActorCriticImpl& net, torch::optim::Adam& optimizer, const Rollout& rollout,
                                         const TrainConfig& train, const PpoConfig& c, at::Generator& gen,
                                         at::Device device, const Collective& ranks) {
  at::Tensor advantages, returns;
  compute_gae(rollout, train.gamma, c.gae_lambda, advantages, returns);

  // Flatten the rollout (T, N, ...) into one batch.
  const int64_t batch = rollout.rewards.numel();
  const at::Tensor b_obs = rollout.obs.flatten(0, 1);
  const at::Tensor b_actions = rollout.actions.flatten(0, 1);
  const at::Tensor b_logprobs = rollout.log_probs.flatten();
  const at::Tensor b_advantages = advantages.flatten();
  const at::Tensor b_returns = returns.flatten();
  const at::Tensor b_values = rollout.values.flatten();
  const int64_t minibatch = std::max<int64_t>(1, batch / c.num_minibatches);

  double pg_sum = 0, v_sum = 0, ent_sum = 0, old_kl_sum = 0, kl_sum = 0, clipfrac_sum = 0;
  int64_t minibatches = 0;
  bool stop = false;
  for (int64_t epoch = 0; epoch < c.update_epochs && !stop; ++epoch) {
    const at::Tensor order = torch::randperm(batch, gen, torch::kInt64);
    for (int64_t start = 0; start < batch; start += minibatch) {
      const at::Tensor idx = order.slice(0, start, std::min(batch, start + minibatch));
      const PolicyOutput out = net.forward(b_obs.index_select(0, idx).to(device));
      const at::Tensor mb_actions = b_actions.index_select(0, idx).to(device);
      const at::Tensor new_logprob = log_prob_of(net, out.logits_or_mean, mb_actions);
      const at::Tensor entropy = entropy_of(net, out.logits_or_mean);
      const at::Tensor new_value = out.value;

      const at::Tensor log_ratio = new_logprob - b_logprobs.index_select(0, idx).to(device);
      const at::Tensor ratio = log_ratio.exp();
      {
        torch::NoGradGuard no_grad;
        old_kl_sum += (-log_ratio).mean().item<double>();
        kl_sum += ((ratio - 1) - log_ratio).mean().item<double>();
        clipfrac_sum += ((ratio - 1.0).abs() > c.clip_coef).to(torch::kFloat32).mean().item<double>();
      }

      at::Tensor mb_adv = b_advantages.index_select(0, idx).to(device);
      if (c.norm_adv && mb_adv.numel() > 1) mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8);

      // Clipped surrogate objective.
      const at::Tensor pg_loss =
          torch::max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - c.clip_coef, 1 + c.clip_coef)).mean();

      // Value loss, optionally clipped around the rollout's values.
      const at::Tensor mb_returns = b_returns.index_select(0, idx).to(device);
      at::Tensor v_loss;
      if (c.clip_vloss) {
        const at::Tensor mb_values = b_values.index_select(0, idx).to(device);
        const at::Tensor v_clipped = mb_values + (new_value - mb_values).clamp(-c.clip_coef, c.clip_coef);
        v_loss = 0.5 * torch::max((new_value - mb_returns).pow(2), (v_clipped - mb_returns).pow(2)).mean();
      } else {
        v_loss = 0.5 * (new_value - mb_returns).pow(2).mean();
      }

      const at::Tensor entropy_loss = entropy.mean();
      const at::Tensor loss = pg_loss - train.ent_coef * entropy_loss + train.vf_coef * v_loss;
      gradient_step(
          loss,
          [&] {
            return std::map<std::string, double>{{"policy_loss", pg_loss.item<double>()},
                                                 {"value_loss", v_loss.item<double>()},
                                                 {"entropy", entropy_loss.item<double>()}};
          },
          optimizer, ranks, train.max_grad_norm);

      pg_sum += pg_loss.item<double>();
      v_sum += v_loss.item<double>();
      ent_sum += entropy_loss.item<double>();
      ++minibatches;
    }
    if (c.target_kl > 0) {
      std::vector<double> kl = {kl_sum / minibatches};  // every rank stops together, on the mean
      ranks.sum(kl);
      if (kl[0] / static_cast<double>(ranks.world_size()) > c.target_kl) stop = true;
    }
  }
  const double m = static_cast<double>(std::max<int64_t>(1, minibatches));
  return {{"losses/policy_loss", pg_sum / m},
          {"losses/value_loss", v_sum / m},
          {"losses/entropy", ent_sum / m},
          {"losses/old_approx_kl", old_kl_sum / m},
          {"losses/approx_kl", kl_sum / m},
          {"losses/clipfrac", clipfrac_sum / m},
          {"losses/explained_variance", explained_variance(b_values, b_returns)}};
}

PpoLearner::PpoLearner(const LearnerContext& context)
    : RolloutLearner(context, "ppo"), config_(PpoConfig::from_spec(context.spec)) {}

GradientLoad PpoLearner::load(const Spec& spec, int64_t rollout_rows) {
  const PpoConfig c = PpoConfig::from_spec(spec);
  return {rollout_rows / c.num_minibatches, 1, "env.num_envs, train.num_steps, ppo.num_minibatches"};
}

std::map<std::string, double> PpoLearner::learn(const Rollout& rollout, at::Generator& gen) {
  return ppo_update(*net_, optimizer_, rollout, train_, config_, gen, device_, ranks_);
}

}  // namespace shardlab
