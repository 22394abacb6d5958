// ATAC (Cheng, Xie, Jiang, Agarwal, ICML 2022), step by step as /work/shared/reference/offline.md
// states it, checked against the lightweight reference implementation (microsoft/lightATAC).
//
// One gradient step (update()), in the reference's order:
//   0. pi(s') without gradient, a' ~ pi(s'); pi(s) with gradient, a_pi = reparameterised sample.
//   1. Critic, for each head i (the two heads' losses are summed, as the reference does):
//        y    = clip(r + (1 - d) gamma min(Qt1, Qt2)(s', a'), Vmin, Vmax)   (target net, no grad)
//        y_i  = clip(r + (1 - d) gamma Q_i(s', a'),          Vmin, Vmax)   (gradient flows)
//        bellman_i = w MSE(Q_i(s, a), y) + (1 - w) MSE(Q_i(s, a), y_i),      w = 0.5
//        pess_i    = mean(Q_i(s, a_pi.detach()) - Q_i(s, a))                 (relative pessimism)
//        loss      = sum_i normalized_sum(pess_i, bellman_i, beta)
//      Q(s, a), Q(s', a') and Q(s, a_pi) of both heads are one batched forward (q_network.h);
//      Adam 5e-4; then every weight matrix of each head is projected to Frobenius norm <= 100.
//   2. Target critic: Polyak, tau 5e-3.
//   3. Temperature: loss = log_alpha * (entropy - target_entropy), Adam 5e-4, log alpha from 0;
//      entropy = -mean log pi(a_pi|s) of the same sample (the reference's estimate).
//   4. Actor: normalized_sum(-mean Q_2(s, a_pi), -entropy, alpha) through the second head only
//      (the reference's `both(...)[-1]`), the critic's weights detached; Adam 5e-7.
// Terminals never include time-limit cuts (Transitions::terminals), so timeouts bootstrap.
//
// Choices, and where they differ from lightATAC:
// - beta defaults to 1.0, lightATAC's ATAC class default (its main.py passes 3.0; the paper tunes
//   beta in 4^k per dataset, so experiment specs set it).
// - Value clipping follows offline.md: the whole backup y (and y_i) is clipped. lightATAC clips
//   only Qt(s', a') before the backup and never the residual backup. Off by default (so both
//   agree); Vmin/Vmax come from the reward range the caller puts in LearnerContext.
// - Warm start (atac.warmup_steps, 100k as the reference): as lightATAC's BehaviorPretraining,
//   with its own Adam optimizers (lr 5e-4 for actor, critic and temperature) and its own
//   temperature (log alpha from 0), so ATAC proper starts with fresh optimizers and alpha = 1
//   exactly as the reference does. Actor: normalized_sum(-mean log pi(a|s), -entropy, alpha) on
//   the dataset actions (tanh-Gaussian log-likelihood with actions clamped to |a| <= 1 - 1e-6,
//   like the reference's clip of the data); critic: the same Bellman loss without pessimism and
//   without the norm projection (the pretraining has none). lightATAC writes the warm-start
//   Bellman terms as expectile-0.5 losses, i.e. half the MSE; we use the MSE (Adam is blind to
//   that factor). lightATAC moves the target before its warm-start critic loss; we keep the
//   main phase's order (target after the critic step) in both phases.
// - Critic initialisation: PyTorch's nn.Linear default (uniform +-1/sqrt(fan_in)) as lightATAC's
//   MLPs; the actor is the shared ActorCritic (agents/actor_critic.h) with whatever agent.* keys
//   the spec sets (the reference actor is agent.torso = mlp, agent.hidden = 256, agent.mlp_layers
//   = 3, agent.mlp_activation = relu, agent.policy_head = tanh_gaussian), so `eval` loads it.
//
// Discrete actions (the maze) — the categorical analogue, chosen here (the reference is
// continuous only):
// - Critic: Q(s, .) heads on the shared torso (agent.* keys, e.g. the IMPALA network), two
//   independent networks for the twins.
// - Every sampled action becomes an exact expectation under pi: the target backup uses
//   sum_a pi(a|s') min(Qt1, Qt2)(s', a) (the expectation of the min, as E_{a'}[min Qt(s', a')] in
//   the continuous case), the residual backup sum_a pi(a|s') Q_i(s', a), pessimism
//   sum_a pi(a|s) Q_i(s, a) - Q_i(s, a_data), the actor's lower bound sum_a pi(a|s) Q_2(s, a).
//   pi is detached in the critic's terms, as a_pi is.
// - Entropy: the exact categorical entropy. Target entropy: atac.discrete_entropy_fraction (0.2)
//   x log |A|. -|A| (the continuous rule) is meaningless for a categorical (its entropy is in
//   [0, log |A|]); SAC-discrete's 0.98 log |A| keeps the policy near uniform, which fights the
//   pessimism that should keep the maze policy near the data's (mostly deterministic) actions.
//   0.2 log |A| lets the policy become confident while alpha still stops a premature collapse.
// - The norm projection applies to every weight tensor of the Q networks (conv kernels taken
//   whole), as the reference's "every module with a weight".
#include "offline/atac.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <future>
#include <limits>
#include <tuple>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

template <class Keys>
void AtacConfig::bind(Keys& keys) {
  keys("atac.beta", beta,
       "weight of the Bellman error against relative pessimism (reference default 1.0; tuned in 4^k, k=-4..4)")
      .at_least(0);
  keys("atac.gamma", gamma, "discount").above(0).at_most(1);
  keys("atac.tau", tau, "Polyak rate of the target critic").above(0).at_most(1);
  keys("atac.target_bellman_weight", target_bellman_weight,
       "weight of the target-network Bellman error; the residual error gets 1 minus it")
      .at_least(0)
      .at_most(1);
  keys("atac.critic_lr", critic_lr, "critic Adam step size (the fast timescale)").above(0);
  keys("atac.actor_lr", actor_lr, "actor Adam step size (the slow timescale)").above(0);
  keys("atac.alpha_lr", alpha_lr, "Adam step size of the entropy temperature's log").above(0);
  keys("atac.init_log_alpha", init_log_alpha, "initial log of the entropy temperature");
  keys("atac.norm_constraint", norm_constraint,
       "Frobenius-norm bound of each critic weight matrix after every critic step (0: off)")
      .at_least(0);
  keys("atac.clip_values", clip_values,
       "clip Bellman targets to [Vmin, Vmax] computed from the dataset's reward range");
  keys("atac.warmup_steps", warmup_steps,
       "first gradient steps: behaviour cloning for the actor, Bellman-only fitting for the critic")
      .at_least(0);
  keys("atac.warmup_lr", warmup_lr,
       "Adam step size of actor, critic and temperature during the warm start (the reference's fast rate)")
      .above(0);
  keys("atac.hidden", hidden, "critic MLP width (continuous actions)").at_least(1);
  keys("atac.layers", layers, "critic MLP hidden layers (continuous actions)").at_least(1);
  keys("atac.parallel_critic", parallel_critic,
       "continuous actions: each critic head's loss and backward on its own thread (the same update up to float "
       "rounding; about 1.6x faster on 2 free cores). Sets OpenBLAS to one thread per call; use run.threads = 1");
  keys("atac.discrete_entropy_fraction", discrete_entropy_fraction,
       "discrete actions: target entropy = this fraction of log(num_actions)")
      .at_least(0)
      .at_most(1);
}

void AtacConfig::declare_keys(SpecSchema& s) { declare_keys_of<AtacConfig>(s); }

AtacConfig AtacConfig::from_spec(const Spec& spec) { return read_keys<AtacConfig>(spec); }

at::Tensor normalized_sum(const at::Tensor& x, const at::Tensor& reg, double w) {
  return w > 1 ? x / w + reg : x + w * reg;
}

std::pair<double, double> atac_value_bounds(double reward_min, double reward_max, double gamma) {
  const double horizon = 1.0 / (1.0 - gamma);
  const double vmax = std::max(0.0, reward_max * horizon);
  const double vmin = std::min({0.0, reward_min * horizon, vmax - horizon});
  return {vmin, vmax};
}

namespace {

// A module holding one scalar parameter, so a temperature is a checkpoint part like any network.
struct TemperatureImpl : torch::nn::Module {
  explicit TemperatureImpl(double initial) { log_alpha = register_parameter("log_alpha", torch::full({1}, initial)); }
  at::Tensor log_alpha;
};
TORCH_MODULE(Temperature);

}  // namespace

struct AtacLearner::Temperatures {
  Temperature main{nullptr}, warmup{nullptr};
};

AtacLearner::AtacLearner(const LearnerContext& context, const AtacConfig& config)
    : config_(config),
      ranks_(context.ranks),
      action_spec_(context.action_spec),
      temperatures_(std::make_unique<Temperatures>()) {
  const NetworkConfig network = NetworkConfig::from_spec(context.spec);
  const ObservationSpec& obs = context.observation_spec;
  net_ = ActorCritic(network, obs, action_spec_, context.init);
  at::Generator scratch = at::detail::createCPUGenerator(0);  // the target copies' draws are overwritten
  if (action_spec_.discrete) {
    discrete_q = DiscreteTwinQ(network, obs, action_spec_.num_actions, context.init);
    discrete_q_target = DiscreteTwinQ(network, obs, action_spec_.num_actions, scratch);
    copy_weights(*discrete_q_target, *discrete_q);
    target_entropy_ = config_.discrete_entropy_fraction * std::log(static_cast<double>(action_spec_.num_actions));
  } else {
    continuous_q = ContinuousTwinQ(obs.size(), action_spec_.dim, config_.hidden, config_.layers, context.init);
    continuous_q_target = ContinuousTwinQ(obs.size(), action_spec_.dim, config_.hidden, config_.layers, scratch);
    copy_weights(*continuous_q_target, *continuous_q);
    target_entropy_ = -static_cast<double>(action_spec_.dim);
  }
  vmin_ = -std::numeric_limits<double>::infinity();
  vmax_ = std::numeric_limits<double>::infinity();
  if (config_.clip_values) {
    if (config_.gamma >= 1.0)
      throw InputError("atac.clip_values = true needs atac.gamma < 1 (Vmax = r_max / (1 - gamma))");
    if (!std::isfinite(context.reward_min) || !std::isfinite(context.reward_max))
      throw InputError("atac.clip_values = true needs the dataset's reward range, which this run does not provide");
    std::tie(vmin_, vmax_) = atac_value_bounds(context.reward_min, context.reward_max, config_.gamma);
  }
  // Two threads each calling a multi-threaded OpenBLAS contend for its one pool: the parallel
  // critic runs its matrix products single-threaded (recorded in the spec by the key itself).
  if (config_.parallel_critic && !action_spec_.discrete) set_blas_threads(1);
  temperatures_->main = Temperature(config_.init_log_alpha);
  temperatures_->warmup = Temperature(config_.init_log_alpha);
  log_alpha = temperatures_->main->log_alpha;
  warmup_log_alpha = temperatures_->warmup->log_alpha;

  torch::nn::Module& q = q_module();
  torch::nn::Module& q_target = q_target_module();
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(net_.get()), &q, &q_target,
                               static_cast<torch::nn::Module*>(temperatures_->main.get()),
                               static_cast<torch::nn::Module*>(temperatures_->warmup.get())})
    m->to(context.device);
  for (auto& p : q_target.parameters()) p.requires_grad_(false);

  using torch::optim::Adam;
  using torch::optim::AdamOptions;
  critic_optimizer_ = std::make_unique<Adam>(q.parameters(), AdamOptions(config_.critic_lr));
  actor_optimizer_ = std::make_unique<Adam>(net_->parameters(), AdamOptions(config_.actor_lr));
  alpha_optimizer_ = std::make_unique<Adam>(std::vector<at::Tensor>{log_alpha}, AdamOptions(config_.alpha_lr));
  warmup_critic_optimizer_ = std::make_unique<Adam>(q.parameters(), AdamOptions(config_.warmup_lr));
  warmup_actor_optimizer_ = std::make_unique<Adam>(net_->parameters(), AdamOptions(config_.warmup_lr));
  warmup_alpha_optimizer_ =
      std::make_unique<Adam>(std::vector<at::Tensor>{warmup_log_alpha}, AdamOptions(config_.warmup_lr));
}

AtacLearner::~AtacLearner() = default;

torch::nn::Module& AtacLearner::q_module() {
  return action_spec_.discrete ? static_cast<torch::nn::Module&>(*discrete_q) : *continuous_q;
}
torch::nn::Module& AtacLearner::q_target_module() {
  return action_spec_.discrete ? static_cast<torch::nn::Module&>(*discrete_q_target) : *continuous_q_target;
}

std::vector<std::string> AtacLearner::metrics() const {
  return {"losses/critic_loss", "losses/bellman_error", "losses/pessimism",  "losses/q_data", "losses/actor_loss",
          "losses/q_policy",    "losses/entropy",       "losses/alpha_loss", "charts/alpha",  "charts/warmup"};
}

void AtacLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("critic", q_module());
  checkpoint.add("critic_target", q_target_module());
  checkpoint.add("temperature", *temperatures_->main);
  checkpoint.add("critic_optimizer", *critic_optimizer_);
  checkpoint.add("actor_optimizer", *actor_optimizer_);
  checkpoint.add("temperature_optimizer", *alpha_optimizer_);
  checkpoint.add("warmup_temperature", *temperatures_->warmup);
  checkpoint.add("warmup_critic_optimizer", *warmup_critic_optimizer_);
  checkpoint.add("warmup_actor_optimizer", *warmup_actor_optimizer_);
  checkpoint.add("warmup_temperature_optimizer", *warmup_alpha_optimizer_);
}

double AtacLearner::alpha() const { return log_alpha.exp().item<double>(); }

void AtacLearner::project_critic() {
  if (config_.norm_constraint <= 0) return;
  project_weight_norms(action_spec_.discrete ? discrete_q->constrained_weights() : continuous_q->constrained_weights(),
                       config_.norm_constraint);
}

at::Tensor AtacLearner::clip(const at::Tensor& y) const { return config_.clip_values ? y.clamp(vmin_, vmax_) : y; }

at::Tensor AtacLearner::target_backup(const Transitions& batch, const at::Tensor& next_policy) {
  torch::NoGradGuard no_grad;
  const at::Tensor discount = config_.gamma * (1.0 - batch.terminals);
  if (action_spec_.discrete) {
    const at::Tensor qt = std::get<0>(discrete_q_target->forward(batch.next_observations).min(0));  // (batch, A)
    return clip(batch.rewards + discount * (next_policy * qt).sum(1));
  }
  const at::Tensor qt = std::get<0>(continuous_q_target->forward(batch.next_observations, next_policy).min(0));
  return clip(batch.rewards + discount * qt);
}

AtacCriticLoss AtacLearner::combine_critic_terms(const Transitions& batch, const at::Tensor& y,
                                                 const at::Tensor& q_data, const at::Tensor& q_next,
                                                 const at::Tensor& q_policy, bool warmup) {
  const at::Tensor discount = config_.gamma * (1.0 - batch.terminals);
  // Residual backup: the gradient flows through Q_i(s', a') too.
  const at::Tensor y_residual = clip(batch.rewards.unsqueeze(0) + discount.unsqueeze(0) * q_next);
  const double w = config_.target_bellman_weight;
  AtacCriticLoss out;
  out.bellman = w * (q_data - y.unsqueeze(0)).pow(2).mean(1) + (1.0 - w) * (q_data - y_residual).pow(2).mean(1);
  if (q_policy.defined()) out.pessimism = (q_policy - q_data).mean(1);
  out.loss = warmup ? out.bellman.sum() : normalized_sum(out.pessimism, out.bellman, config_.beta).sum();
  out.q_data = q_data.detach();
  return out;
}

AtacCriticLoss AtacLearner::critic_loss(const Transitions& batch, const at::Tensor& next_policy,
                                        const at::Tensor& policy, bool warmup) {
  const int64_t n = batch.rewards.size(0);
  const at::Tensor y = target_backup(batch, next_policy);  // (batch,)
  at::Tensor q_data, q_next, q_policy;                     // (2, batch): Q_i(s, a), Q_i(s', pi), Q_i(s, pi)
  if (action_spec_.discrete) {
    // Q(s, .) and Q(s', .) in one pass; expectations under pi replace the sampled actions.
    const at::Tensor q_all = discrete_q->forward(torch::cat({batch.observations, batch.next_observations}, 0));
    const at::Tensor q_s = q_all.narrow(1, 0, n), q_s_next = q_all.narrow(1, n, n);
    q_data = q_s.gather(2, batch.actions.view({1, n, 1}).expand({2, n, 1})).squeeze(2);
    q_next = (q_s_next * next_policy.unsqueeze(0)).sum(2);
    q_policy = (q_s * policy.unsqueeze(0)).sum(2);
  } else {
    // Q(s, a), Q(s', a') and (after the warm start) Q(s, a_pi) in one pass of both heads.
    const at::Tensor q_all =
        warmup ? continuous_q->forward(torch::cat({batch.observations, batch.next_observations}, 0),
                                       torch::cat({batch.actions, next_policy}, 0))
               : continuous_q->forward(torch::cat({batch.observations, batch.next_observations, batch.observations}, 0),
                                       torch::cat({batch.actions, next_policy, policy}, 0));
    q_data = q_all.narrow(1, 0, n);
    q_next = q_all.narrow(1, n, n);
    if (!warmup) q_policy = q_all.narrow(1, 2 * n, n);
  }
  return combine_critic_terms(batch, y, q_data, q_next, q_policy, warmup);
}

AtacCriticLoss AtacLearner::head_critic_loss(int64_t head, const Transitions& batch, const at::Tensor& y,
                                             const at::Tensor& next_policy, const at::Tensor& policy, bool warmup) {
  const int64_t n = batch.rewards.size(0);
  const at::Tensor q_all =
      warmup ? continuous_q->forward_head(head, torch::cat({batch.observations, batch.next_observations}, 0),
                                          torch::cat({batch.actions, next_policy}, 0))
             : continuous_q->forward_head(
                   head, torch::cat({batch.observations, batch.next_observations, batch.observations}, 0),
                   torch::cat({batch.actions, next_policy, policy}, 0));
  const at::Tensor q = q_all.unsqueeze(0);  // (1, 2 or 3 batch)
  return combine_critic_terms(batch, y, q.narrow(1, 0, n), q.narrow(1, n, n),
                              warmup ? at::Tensor() : q.narrow(1, 2 * n, n), warmup);
}

AtacActorLoss AtacLearner::actor_loss(const Transitions& batch, const at::Tensor& policy, const at::Tensor& log_prob,
                                      double alpha) {
  AtacActorLoss out;
  if (action_spec_.discrete) {
    const at::Tensor q2 = discrete_q->forward_head(1, batch.observations, /*frozen=*/true);
    out.q_policy = (policy * q2).sum(1).mean();
    out.entropy = -(policy * log_prob).sum(1).mean();
  } else {
    out.q_policy = continuous_q->forward_head(1, batch.observations, policy, /*frozen=*/true).mean();
    out.entropy = -log_prob.mean();
  }
  out.loss = normalized_sum(-out.q_policy, -out.entropy, alpha);
  return out;
}

std::map<std::string, double> AtacLearner::update(const Batch& given, int64_t step, at::Generator& gen) {
  const Transitions& batch = transitions_of(given, "atac");
  const bool warmup = step <= config_.warmup_steps;
  torch::optim::Adam& critic_optimizer = warmup ? *warmup_critic_optimizer_ : *critic_optimizer_;
  torch::optim::Adam& actor_optimizer = warmup ? *warmup_actor_optimizer_ : *actor_optimizer_;
  torch::optim::Adam& alpha_optimizer = warmup ? *warmup_alpha_optimizer_ : *alpha_optimizer_;
  const at::Tensor& temperature = warmup ? warmup_log_alpha : log_alpha;

  // The policy at s' (no gradient) and at s (reparameterised, kept for the actor's loss).
  at::Tensor next_policy;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor out_next = net_->forward(batch.next_observations).logits_or_mean;
    next_policy = action_spec_.discrete ? torch::softmax(out_next, 1) : sample_action(*net_, out_next, gen).action;
  }
  const bool parallel = config_.parallel_critic && !action_spec_.discrete;
  // In parallel mode the target backup runs on a second thread while this one runs pi(s).
  at::Tensor y;
  std::future<void> target_job;
  if (parallel) target_job = std::async(std::launch::async, [&] { y = target_backup(batch, next_policy); });
  const at::Tensor out_s = net_->forward(batch.observations).logits_or_mean;
  at::Tensor policy, log_prob;  // a_pi and log pi(a_pi|s), or pi(.|s) and log pi(.|s)
  if (action_spec_.discrete) {
    log_prob = torch::log_softmax(out_s, 1);
    policy = log_prob.exp();
  } else {
    const ActionSample sample = rsample_action(*net_, out_s, gen);
    policy = sample.action;
    log_prob = sample.log_prob;
  }

  // 1. Critic.
  AtacCriticLoss critic;
  critic_optimizer.zero_grad();
  if (parallel) {
    // Each head's loss and backward on its own thread: the heads share no parameter slice, so
    // their gradients land in disjoint halves of the stacked weights' gradients.
    target_job.get();
    const at::Tensor a_pi = policy.detach();
    AtacCriticLoss second;
    std::future<void> second_job = std::async(std::launch::async, [&] {
      second = head_critic_loss(1, batch, y, next_policy, a_pi, warmup);
      second.loss.backward();
    });
    AtacCriticLoss first;
    std::exception_ptr failure;
    try {
      first = head_critic_loss(0, batch, y, next_policy, a_pi, warmup);
      first.loss.backward();
    } catch (...) {
      failure = std::current_exception();
    }
    second_job.get();
    if (failure) std::rethrow_exception(failure);
    critic.loss = first.loss.detach() + second.loss.detach();
    critic.bellman = torch::cat({first.bellman, second.bellman}).detach();
    if (!warmup) critic.pessimism = torch::cat({first.pessimism, second.pessimism}).detach();
    critic.q_data = torch::cat({first.q_data, second.q_data});
  } else {
    critic = critic_loss(batch, next_policy, policy.detach(), warmup);
    if (std::isfinite(critic.loss.item<double>())) critic.loss.backward();
  }
  finish_gradient_step(
      critic.loss,
      [&] {
        return std::map<std::string, double>{{"critic_loss", critic.loss.item<double>()}};
      },
      critic_optimizer, ranks_);
  if (!warmup) project_critic();  // the warm start (the reference's pretraining) has no constraint

  // 2. Target critic.
  polyak_update(q_target_module(), q_module(), config_.tau);

  // 3. Temperature, toward the target entropy.
  const at::Tensor entropy = action_spec_.discrete ? -(policy * log_prob).sum(1).mean() : -log_prob.mean();
  const at::Tensor alpha_loss = (temperature * (entropy.detach() - target_entropy_)).sum();
  gradient_step(
      alpha_loss,
      [&] {
        return std::map<std::string, double>{{"alpha_loss", alpha_loss.item<double>()}};
      },
      alpha_optimizer, ranks_);
  const double alpha = temperature.exp().item<double>();

  // 4. Actor: behaviour cloning in the warm start, else the relative lower bound of one head.
  at::Tensor actor, q_policy;
  if (warmup) {
    const at::Tensor log_likelihood = log_prob_of(*net_, out_s, batch.actions).mean();
    actor = normalized_sum(-log_likelihood, -entropy, alpha);
  } else {
    const AtacActorLoss a = actor_loss(batch, policy, log_prob, alpha);
    actor = a.loss;
    q_policy = a.q_policy.detach();
  }
  gradient_step(
      actor,
      [&] {
        return std::map<std::string, double>{{"actor_loss", actor.item<double>()}};
      },
      actor_optimizer, ranks_);

  // One copy to doubles for every metric (no per-value sync).
  std::vector<at::Tensor> values = {critic.loss.detach(), critic.bellman.detach().mean(),
                                    critic.q_data.mean(), actor.detach(),
                                    entropy.detach(),     alpha_loss.detach()};
  if (critic.pessimism.defined()) values.push_back(critic.pessimism.detach().mean());
  if (q_policy.defined()) values.push_back(q_policy);
  const at::Tensor stats = torch::stack(values).to(torch::kFloat64).cpu();
  const double* s = stats.data_ptr<double>();
  std::map<std::string, double> metrics = {{"losses/critic_loss", s[0]}, {"losses/bellman_error", s[1]},
                                           {"losses/q_data", s[2]},      {"losses/actor_loss", s[3]},
                                           {"losses/entropy", s[4]},     {"losses/alpha_loss", s[5]},
                                           {"charts/alpha", alpha},      {"charts/warmup", warmup ? 1.0 : 0.0}};
  size_t next = 6;
  if (critic.pessimism.defined()) metrics["losses/pessimism"] = s[next++];
  if (q_policy.defined()) metrics["losses/q_policy"] = s[next++];
  return metrics;
}

}  // namespace shardlab
