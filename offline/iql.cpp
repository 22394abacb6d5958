#include "offline/iql.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "core/error.h"
#include "core/spec.h"
#include "offline/dataset.h"

namespace shardlab {

template <class Keys>
void IqlConfig::bind(Keys& keys) {
  keys("iql.expectile", expectile, "expectile tau of the value loss (0.7 locomotion, 0.9 antmaze)").above(0).at_most(1);
  keys("iql.temperature", temperature, "AWR inverse temperature beta (3.0 locomotion)").at_least(0);
  keys("iql.max_weight", max_weight, "AWR weights exp(beta * advantage) clipped to this").above(0);
  keys("iql.gamma", gamma, "discount").at_least(0).at_most(1);
  keys("iql.tau", tau, "Polyak rate of the target Q networks").above(0).at_most(1);
  keys("iql.critic_lr", critic_lr, "Adam step size of Q and V").above(0);
  keys("iql.actor_lr", actor_lr, "Adam step size of the policy (initial, before the cosine decay)").above(0);
  keys("iql.cosine_decay", cosine_decay, "decay the actor's step size on a cosine to 0 over the run");
  keys("iql.hidden", hidden, "width of the Q and V MLPs (continuous actions)").at_least(1);
  keys("iql.layers", layers, "hidden layers of the Q and V MLPs (continuous actions)").at_least(1);
  keys("iql.reward_scale", reward_scale,
       "trajectory: rewards x 1000 / (max - min trajectory return) of the relabeled dataset, as the reference "
       "(1 when every return is equal, e.g. zero rewards); none: the rewards as relabeled",
       {"trajectory", "none"});
}

void IqlConfig::declare_keys(SpecSchema& s) { declare_keys_of<IqlConfig>(s); }

IqlConfig IqlConfig::from_spec(const Spec& spec) { return read_keys<IqlConfig>(spec); }

at::Tensor expectile_loss(const at::Tensor& u, double tau) {
  const at::Tensor weight = torch::where(u < 0, torch::full_like(u, 1.0 - tau), torch::full_like(u, tau));
  return (weight * u.pow(2)).mean();
}

double iql_reward_scale(const std::vector<double>& trajectory_returns) {
  if (trajectory_returns.empty()) return 1.0;
  const auto [low, high] = std::minmax_element(trajectory_returns.begin(), trajectory_returns.end());
  const double spread = *high - *low;
  return spread > 0 && std::isfinite(1000.0 / spread) ? 1000.0 / spread : 1.0;
}

namespace {

// iql.reward_scale for the run's dataset (offline.dataset relabeled as offline.reward with the
// run's relabel seed), printed once by the leader. 1 without a dataset file.
double reward_scale_of_run(const Spec& spec, const IqlConfig& config, bool leader) {
  if (config.reward_scale == "none" || !spec.schema().find("offline.dataset")) return 1.0;
  const std::string& path = spec.get_string("offline.dataset");
  if (path.empty()) return 1.0;
  const RewardLabel label = parse_reward_label(spec.get_string("offline.reward"), "offline.reward");
  const std::vector<double> returns =
      trajectory_returns(path, label, offline_relabel_seed(static_cast<uint64_t>(spec.get_int("run.seed"))));
  const double scale = iql_reward_scale(returns);
  if (!leader) return scale;
  if (returns.empty()) {
    std::cerr << "iql: " << path << " has no trajectory to rescale by; rewards unscaled (scale 1)\n";
    return scale;
  }
  const auto [low, high] = std::minmax_element(returns.begin(), returns.end());
  if (*high > *low)
    std::cerr << "iql: rewards (" << reward_label_name(label) << ") x " << scale << " = 1000 / (" << *high << " - "
              << *low << "), the spread of " << returns.size() << " trajectory returns of " << path << "\n";
  else
    std::cerr << "iql: every one of the " << returns.size() << " trajectory returns of " << path << " ("
              << reward_label_name(label) << " rewards) is " << *low
              << ": 1000 / (max - min) is undefined, rewards unscaled (scale 1)\n";
  return scale;
}

}  // namespace

IqlLearner::IqlLearner(const LearnerContext& context, const IqlConfig& config)
    : config_(config),
      ranks_(context.ranks),
      action_spec_(context.action_spec),
      total_steps_(std::max<int64_t>(1, context.total_updates)),
      reward_scale_(reward_scale_of_run(context.spec, config, context.ranks.leader())) {
  const NetworkConfig network = NetworkConfig::from_spec(context.spec);
  const ObservationSpec& obs = context.observation_spec;
  net_ = ActorCritic(network, obs, action_spec_, context.init);
  if (!action_spec_.discrete && network.policy_head != "tanh_mean_gaussian" && ranks_.leader())
    std::cerr << "iql: agent.policy_head = " << network.policy_head
              << "; the reference's policy is agent.policy_head = tanh_mean_gaussian\n";
  // Target copies start equal to their networks; their own draws are thrown away.
  at::Generator scratch = at::detail::createCPUGenerator(0);
  if (action_spec_.discrete) {
    discrete_q = DiscreteTwinQ(network, obs, action_spec_.num_actions, context.init);
    discrete_q_target = DiscreteTwinQ(network, obs, action_spec_.num_actions, scratch);
    copy_weights(*discrete_q_target, *discrete_q);
    value = ValueNetwork(network, obs, context.init);
  } else {
    continuous_q = ContinuousTwinQ(obs.size(), action_spec_.dim, config_.hidden, config_.layers, context.init);
    continuous_q_target = ContinuousTwinQ(obs.size(), action_spec_.dim, config_.hidden, config_.layers, scratch);
    copy_weights(*continuous_q_target, *continuous_q);
    value = ValueNetwork(obs, config_.hidden, config_.layers, context.init);
  }
  torch::nn::Module& q = q_module();
  torch::nn::Module& q_target = q_target_module();
  net_->to(context.device);
  q.to(context.device);
  q_target.to(context.device);
  value->to(context.device);
  for (auto& p : q_target.parameters()) p.requires_grad_(false);
  q_optimizer_ = std::make_unique<torch::optim::Adam>(q.parameters(), torch::optim::AdamOptions(config_.critic_lr));
  v_optimizer_ =
      std::make_unique<torch::optim::Adam>(value->parameters(), torch::optim::AdamOptions(config_.critic_lr));
  actor_optimizer_ =
      std::make_unique<torch::optim::Adam>(net_->parameters(), torch::optim::AdamOptions(config_.actor_lr));
}

torch::nn::Module& IqlLearner::q_module() {
  return action_spec_.discrete ? static_cast<torch::nn::Module&>(*discrete_q) : *continuous_q;
}
torch::nn::Module& IqlLearner::q_target_module() {
  return action_spec_.discrete ? static_cast<torch::nn::Module&>(*discrete_q_target) : *continuous_q_target;
}

std::vector<std::string> IqlLearner::metrics() const {
  return {"losses/value_loss", "losses/q_loss",     "losses/actor_loss", "losses/q_data",      "losses/value",
          "losses/advantage",  "losses/awr_weight", "charts/actor_lr",   "charts/reward_scale"};
}

void IqlLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("q", q_module());
  checkpoint.add("q_target", q_target_module());
  checkpoint.add("value", *value);
  checkpoint.add("q_optimizer", *q_optimizer_);
  checkpoint.add("value_optimizer", *v_optimizer_);
  checkpoint.add("actor_optimizer", *actor_optimizer_);
}

double IqlLearner::actor_lr_at(int64_t step) const {
  if (!config_.cosine_decay) return config_.actor_lr;
  // optax.cosine_decay_schedule as the paper's code: lr * (1 + cos(pi * t / T)) / 2, t from 0.
  const double t = std::min<double>(static_cast<double>(std::max<int64_t>(0, step - 1)), total_steps_);
  return config_.actor_lr * 0.5 * (1.0 + std::cos(M_PI * t / static_cast<double>(total_steps_)));
}

at::Tensor IqlLearner::q_of(const Transitions& batch, bool target) {
  if (action_spec_.discrete) {
    const at::Tensor q =
        target ? discrete_q_target->forward(batch.observations) : discrete_q->forward(batch.observations);
    const at::Tensor index = batch.actions.view({1, -1, 1}).expand({2, q.size(1), 1});
    return q.gather(2, index).squeeze(2);  // (2, batch)
  }
  return target ? continuous_q_target->forward(batch.observations, batch.actions)
                : continuous_q->forward(batch.observations, batch.actions);
}

at::Tensor IqlLearner::advantage_weights(const Transitions& batch) {
  torch::NoGradGuard no_grad;
  const at::Tensor advantage = std::get<0>(q_of(batch, /*target=*/true).min(0)) - value->forward(batch.observations);
  return torch::exp(config_.temperature * advantage).clamp_max(config_.max_weight);
}

std::map<std::string, double> IqlLearner::update(const Batch& given, int64_t step, at::Generator& gen) {
  const Transitions& batch = transitions_of(given, "iql");
  const int64_t n = batch.rewards.size(0);

  // 1. Value: expectile regression onto the target critic's min at the dataset action.
  at::Tensor q_target_data;
  {
    torch::NoGradGuard no_grad;
    q_target_data = std::get<0>(q_of(batch, /*target=*/true).min(0));
  }
  const at::Tensor v = value->forward(batch.observations);
  const at::Tensor value_loss = expectile_loss(q_target_data - v, config_.expectile);
  gradient_step(
      value_loss,
      [&] {
        return std::map<std::string, double>{{"value_loss", value_loss.item<double>()}};
      },
      *v_optimizer_, ranks_);

  // The updated V(s) and V(s') (the paper's code updates V first and uses it for both the
  // actor's advantages and the Q targets).
  at::Tensor v_s, v_next;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor both = value->forward(torch::cat({batch.observations, batch.next_observations}, 0));
    v_s = both.narrow(0, 0, n);
    v_next = both.narrow(0, n, n);
  }

  // 2. Policy extraction by advantage-weighted regression.
  const at::Tensor advantage = q_target_data - v_s;
  const at::Tensor weight = torch::exp(config_.temperature * advantage).clamp_max(config_.max_weight);
  const PolicyOutput out = net_->forward(batch.observations);
  const at::Tensor log_prob = log_prob_of(*net_, out.logits_or_mean, batch.actions);
  const at::Tensor actor_loss = -(weight * log_prob).mean();
  const double lr = actor_lr_at(step);
  for (auto& group : actor_optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  gradient_step(
      actor_loss,
      [&] {
        return std::map<std::string, double>{{"actor_loss", actor_loss.item<double>()}};
      },
      *actor_optimizer_, ranks_);

  // 3. Q: regression onto scale r + gamma (1 - d) V(s'); no policy action anywhere.
  const at::Tensor y = reward_scale_ * batch.rewards + config_.gamma * (1.0 - batch.terminals) * v_next;
  const at::Tensor q = q_of(batch, /*target=*/false);
  const at::Tensor q_loss = (q - y.unsqueeze(0)).pow(2).mean(1).sum();
  gradient_step(
      q_loss,
      [&] {
        return std::map<std::string, double>{{"q_loss", q_loss.item<double>()}};
      },
      *q_optimizer_, ranks_);

  // 4. Target critic.
  polyak_update(q_target_module(), q_module(), config_.tau);

  const at::Tensor stats = torch::stack({value_loss.detach(), q_loss.detach(), actor_loss.detach(), q.detach().mean(),
                                         v_s.mean(), advantage.mean(), weight.mean()})
                               .to(torch::kFloat64)
                               .cpu();
  const double* s = stats.data_ptr<double>();
  return {{"losses/value_loss", s[0]}, {"losses/q_loss", s[1]}, {"losses/actor_loss", s[2]},
          {"losses/q_data", s[3]},     {"losses/value", s[4]},  {"losses/advantage", s[5]},
          {"losses/awr_weight", s[6]}, {"charts/actor_lr", lr}, {"charts/reward_scale", reward_scale_}};
}

}  // namespace shardlab
