// ATAC (Cheng, Xie, Jiang, Agarwal, ICML 2022) as microsoft/lightATAC runs it (its atac.py, bp.py,
// policy.py, value_functions.py, util.py and main.py, read line by line; /work/shared/reference/
// offline.md). Side by side on one dataset the two learn the same curves: docs/offline-atac.md.
//
// One gradient step (update()), in the reference's order:
//   0. pi(s') without gradient, a' ~ pi(s'); pi(s) with gradient, a_pi = reparameterised sample.
//   1. Critic, for each head i (the two heads' losses are summed, as the reference does):
//        y    = clip(r + (1 - d) gamma min(Qt1, Qt2)(s', a'), Vmin, Vmax)   (target net, no grad)
//        y_i  = clip(r + (1 - d) gamma Q_i(s', a'),          Vmin, Vmax)   (gradient flows)
//        bellman_i = w MSE(Q_i(s, a), y) + (1 - w) MSE(Q_i(s, a), y_i),      w = 0.5
//        pess_i    = mean(Q_i(s, a_pi.detach()) - Q_i(s, a))                 (relative pessimism)
//        loss      = sum_i normalized_sum(pess_i, bellman_i, beta)
//      Q(s, a), Q(s', a') and Q(s, a_pi) of a head in one forward over the stacked rows; Adam 5e-4;
//      then every weight matrix (not the biases) of each head is scaled to Frobenius norm <= 100.
//   2. Target critic: Polyak, tau 5e-3.
//   3. Temperature: loss = log_alpha * (entropy - (-|A|)), Adam 5e-4 (the critic's), log alpha from
//      0; entropy = -mean log pi(a_pi|s) of the same sample, per action dimension (below).
//   4. Actor: normalized_sum(-mean Q_2(s, a_pi), -entropy, alpha) with alpha after its step,
//      through the updated second head only (`both(...)[-1]`), its weights frozen; Adam 5e-7.
// Continuous ATAC proper runs this with hand-written gradients (offline/atac_fused.cpp, atac.fused).
// Terminals never include time-limit cuts (Transitions::terminals), so timeouts bootstrap.
//
// What follows lightATAC (each a spec key whose default is lightATAC's, where we keep another way):
// - Entropy (atac.entropy = per_dimension): its policy is a Normal, not an Independent, under a
//   TanhTransform, so log_prob is per action dimension and -log_prob.mean() averages over the batch
//   AND the dimensions; that figure enters the actor's and the temperature's losses, against -|A|.
//   per_action keeps the textbook sum over dimensions (an entropy bonus |A| times heavier).
// - Actor (atac.actor_init = pytorch): nn.Linear's default initialisation in every layer, and the
//   head's log-std rows zero weights and biases (std 1 everywhere), as its GaussianPolicy with
//   std_type = diagonal and init_std = 1; orthogonal keeps PPO's. Mean and log-std are the head's
//   two halves; log-std clamped to [log 1e-5, log 10] (its min_std/max_std; its LOG_STD_MIN/MAX are
//   unused); a = tanh(mean + std eps); log-det 2 (log 2 - u - softplus(-2u)), as TanhTransform.
// - Target around the warm start (atac.warmup_target = initial): main.py builds ATAC, whose
//   constructor copies the critic into its own target, BEFORE the pretraining, and the pretraining
//   moves another copy; so ATAC proper's first target is the critic's initial weights. kept
//   continues the warm start's target.
// - Warm start (atac.warmup_steps; main.py's 100k): BehaviorPretraining with td_weight = rs_weight
//   = 0.5, fixed_alpha = None: its own temperature (log alpha from 0, Adam 5e-4) stepped first,
//   then one Adam (5e-4) over actor and critic: actor normalized_sum(-mean log pi(a|s), -entropy,
//   alpha), both per dimension; critic the Bellman terms as expectile-0.5 losses (half the squared
//   error), no pessimism and no norm projection; its target moves BEFORE the critic's loss. Our
//   separate Adams for actor and critic equal its joint one (Adam is per parameter). ATAC proper
//   then starts with fresh optimizers and alpha = 1, as the reference's.
// - Data: main.py clips the dataset's actions to |a| <= 1 - 1e-6 for every use (the critic's
//   Q(s, a) too); so do we, with a tanh_gaussian actor. No observation or reward normalisation.
// - Critic: two independent 3 x 256 ReLU MLPs on concat(s, a) with PyTorch's default init (the
//   twins stacked as one module, q_network.h); Adam defaults (betas 0.9/0.999, eps 1e-8).
// - Value clipping (atac.clip_values, off by default as main.py's --clip_v): y and y_i both
//   clipped as its compute_bellman_backup does; Vmin/Vmax by its formula from the reward range.
//
// What remains different, and why:
// - beta defaults to 1.0, the ATAC class default (main.py passes 3.0; the paper tunes beta in 4^k
//   per dataset, so experiment specs set it); the actor's step 5e-7 is main.py's slow_lr.
// - The warm start samples offline.batch_size rows (bp.train always takes 256) and counts its
//   steps inside offline.steps (main.py runs them before its n_steps).
// - Random streams differ (ours: the run's generator, draws in the order a', a_pi); the curves
//   agree in distribution over seeds, not draw by draw.
// - lightATAC's ATAC0 (initial-state pessimism) and its debug logs are not implemented.
//
// Discrete actions (the maze) — the categorical analogue, chosen here (the reference is
// continuous only; atac.entropy, atac.actor_init and atac.fused do not apply):
// - Critic: Q(s, .) heads on the shared torso (agent.* keys, e.g. the IMPALA network), two
//   independent networks for the twins; the actor keeps PPO's orthogonal initialisation.
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

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
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
  keys("atac.fused", fused,
       "continuous ATAC proper (tanh_gaussian actor on an mlp relu torso, CPU): gradients written out by hand, "
       "the autograd path's arithmetic up to float rounding with less work (offline/atac_fused.cpp); false: autograd");
  keys("atac.threads", threads,
       "threads of one fused step: 2 runs its independent halves (the actor at s and s', the twin critics with "
       "their Adam steps, the actor loss's two row halves) side by side, each with one-thread OpenBLAS (set "
       "process-wide); 1 runs them in order; 0 picks 2 when OpenBLAS was given 2 or more threads (run.threads), "
       "else 1. The same numbers either way")
      .at_least(0)
      .at_most(2);
  keys("atac.entropy", entropy,
       "continuous actions: per_dimension averages log pi(a_pi|s) over action dimensions as lightATAC's Normal "
       "under a TanhTransform does (its entropy estimate, in the actor's and temperature's losses and the warm "
       "start's log-likelihood); per_action sums them (the textbook entropy). The target is -|A| either way",
       {"per_dimension", "per_action"});
  keys("atac.actor_init", actor_init,
       "continuous actions: pytorch draws every actor layer as nn.Linear's default with zero log-std rows (std "
       "1), as lightATAC; orthogonal keeps PPO's initialisation (agent.* torso, policy head gain 0.01)",
       {"pytorch", "orthogonal"});
  keys("atac.warmup_target", warmup_target,
       "after a warm start, ATAC proper's target critic: initial = the critic's initial weights, as lightATAC "
       "(its ATAC copies the critic before the pretraining, whose own target it discards); kept = the warm "
       "start's target",
       {"initial", "kept"});
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

void atac_init_actor(ActorCriticImpl& net, const AtacConfig& config, at::Generator& init) {
  if (!net.action_spec().discrete && config.actor_init == "pytorch") net.init_linear_defaults(init);
}

double atac_density_dims(const AtacConfig& config, const ActionSpec& action_spec) {
  const bool per_dimension = !action_spec.discrete && config.entropy == "per_dimension";
  return per_dimension ? static_cast<double>(action_spec.dim) : 1.0;
}

at::Tensor atac_data_actions(const ActorCriticImpl& net, const at::Tensor& actions) {
  constexpr double kBound = 1.0 - 1e-6;  // lightATAC's clip of the dataset's actions
  return net.tanh_gaussian() ? actions.clamp(-kBound, kBound) : actions;
}

namespace {

// OpenBLAS's thread count as set_blas_threads (offline/learner.h) left it; 1 without OpenBLAS.
int blas_threads() {
  using GetThreads = int (*)();
  if (auto f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) return f();
  return 1;
}

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
  atac_init_actor(*net_, config_, context.init);
  at::Generator scratch = at::detail::createCPUGenerator(0);  // the copies' draws are overwritten
  const bool keep_initial = config_.warmup_steps > 0 && config_.warmup_target == "initial";
  if (action_spec_.discrete) {
    const int64_t actions = action_spec_.num_actions;
    discrete_q = DiscreteTwinQ(network, obs, actions, context.init);
    discrete_q_target = DiscreteTwinQ(network, obs, actions, scratch);
    if (keep_initial) discrete_q_initial = DiscreteTwinQ(network, obs, actions, scratch);
    target_entropy_ = config_.discrete_entropy_fraction * std::log(static_cast<double>(actions));
  } else {
    const int64_t dim = action_spec_.dim;
    continuous_q = ContinuousTwinQ(obs.size(), dim, config_.hidden, config_.layers, context.init);
    continuous_q_target = ContinuousTwinQ(obs.size(), dim, config_.hidden, config_.layers, scratch);
    if (keep_initial) continuous_q_initial = ContinuousTwinQ(obs.size(), dim, config_.hidden, config_.layers, scratch);
    target_entropy_ = -static_cast<double>(dim);
  }
  density_dims_ = atac_density_dims(config_, action_spec_);
  copy_weights(q_target_module(), q_module());
  if (torch::nn::Module* initial = q_initial_module()) copy_weights(*initial, q_module());
  vmin_ = -std::numeric_limits<double>::infinity();
  vmax_ = std::numeric_limits<double>::infinity();
  if (config_.clip_values) {
    if (config_.gamma >= 1.0)
      throw InputError("atac.clip_values = true needs atac.gamma < 1 (Vmax = r_max / (1 - gamma))");
    if (!std::isfinite(context.reward_min) || !std::isfinite(context.reward_max))
      throw InputError("atac.clip_values = true needs the dataset's reward range, which this run does not provide");
    std::tie(vmin_, vmax_) = atac_value_bounds(context.reward_min, context.reward_max, config_.gamma);
  }
  fused_ = config_.fused && !action_spec_.discrete && net_->tanh_gaussian() && network.torso == "mlp" &&
           network.mlp_activation == "relu" && context.device.is_cpu();
  if (fused_) fused_actor_ = fused_actor_of(*net_);
  // Two threads each calling a multi-threaded OpenBLAS contend for its one pool: the two-thread
  // step runs its matrix products single-threaded (recorded in the spec by the key itself).
  if (fused_ && (config_.threads == 2 || (config_.threads == 0 && blas_threads() >= 2))) {
    set_blas_threads(1);
    worker_ = std::make_unique<StepWorker>();
  }
  temperatures_->main = Temperature(config_.init_log_alpha);
  temperatures_->warmup = Temperature(config_.init_log_alpha);
  log_alpha = temperatures_->main->log_alpha;
  warmup_log_alpha = temperatures_->warmup->log_alpha;

  torch::nn::Module& q = q_module();
  torch::nn::Module& q_target = q_target_module();
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(net_.get()), &q, &q_target, q_initial_module(),
                               static_cast<torch::nn::Module*>(temperatures_->main.get()),
                               static_cast<torch::nn::Module*>(temperatures_->warmup.get())})
    if (m) m->to(context.device);
  for (torch::nn::Module* m : {&q_target, q_initial_module()})
    if (m)
      for (auto& p : m->parameters()) p.requires_grad_(false);

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
torch::nn::Module* AtacLearner::q_initial_module() {
  if (action_spec_.discrete) return discrete_q_initial ? discrete_q_initial.get() : nullptr;
  return continuous_q_initial ? continuous_q_initial.get() : nullptr;
}

std::vector<std::string> AtacLearner::metrics() const {
  return {"losses/critic_loss", "losses/bellman_error", "losses/pessimism",  "losses/q_data", "losses/actor_loss",
          "losses/q_policy",    "losses/entropy",       "losses/alpha_loss", "charts/alpha",  "charts/warmup"};
}

void AtacLearner::add_parts(Checkpoint& checkpoint) {
  checkpoint.add("model", *net_);
  checkpoint.add("critic", q_module());
  checkpoint.add("critic_target", q_target_module());
  if (torch::nn::Module* initial = q_initial_module()) checkpoint.add("critic_initial", *initial, /*optional=*/true);
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
  // The warm start's Bellman terms are lightATAC's expectile-0.5 losses: half the squared error.
  out.loss = warmup ? 0.5 * out.bellman.sum() : normalized_sum(out.pessimism, out.bellman, config_.beta).sum();
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

at::Tensor AtacLearner::entropy_estimate(const at::Tensor& policy, const at::Tensor& log_prob) const {
  if (action_spec_.discrete) return -(policy * log_prob).sum(1).mean();
  return -log_prob.mean() / density_dims_;
}

AtacActorLoss AtacLearner::actor_loss(const Transitions& batch, const at::Tensor& policy, const at::Tensor& log_prob,
                                      double alpha) {
  AtacActorLoss out;
  if (action_spec_.discrete) {
    const at::Tensor q2 = discrete_q->forward_head(1, batch.observations, /*frozen=*/true);
    out.q_policy = (policy * q2).sum(1).mean();
  } else {
    out.q_policy = continuous_q->forward_head(1, batch.observations, policy, /*frozen=*/true).mean();
  }
  out.entropy = entropy_estimate(policy, log_prob);
  out.loss = normalized_sum(-out.q_policy, -out.entropy, alpha);
  return out;
}

Transitions AtacLearner::training_batch(const Batch& given) const {
  Transitions batch = transitions_of(given, "atac");
  // lightATAC's main.py clips the dataset's actions into tanh's open range for every use (the
  // critic's Q(s, a) too), since the squashed policy can never produce +-1.
  batch.actions = atac_data_actions(*net_, batch.actions);
  return batch;
}

std::map<std::string, double> AtacLearner::step_metrics(const AtacCriticLoss& critic, const at::Tensor& actor,
                                                        const at::Tensor& entropy, const at::Tensor& alpha_loss,
                                                        const at::Tensor& q_policy, double alpha, bool warmup) {
  // One copy to doubles for every metric (no per-value sync).
  std::vector<at::Tensor> values = {critic.loss.detach(), critic.bellman.detach().mean(),
                                    critic.q_data.mean(), actor.detach(),
                                    entropy.detach(),     alpha_loss.detach()};
  if (critic.pessimism.defined()) values.push_back(critic.pessimism.detach().mean());
  if (q_policy.defined()) values.push_back(q_policy.detach());
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

std::map<std::string, double> AtacLearner::update(const Batch& given, int64_t step, at::Generator& gen) {
  const Transitions batch = training_batch(given);
  const bool warmup = step <= config_.warmup_steps;
  // ATAC proper starts from its own target critic: lightATAC's is the critic's initial weights.
  if (step == config_.warmup_steps + 1)
    if (torch::nn::Module* initial = q_initial_module()) copy_weights(q_target_module(), *initial);
  if (fused_ && !warmup) return fused_update(batch, gen);
  // lightATAC's pretraining moves its target before the critic's loss; ATAC proper after the step.
  if (warmup) polyak_update(q_target_module(), q_module(), config_.tau);
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
  critic_optimizer.zero_grad();
  const AtacCriticLoss critic = critic_loss(batch, next_policy, policy.detach(), warmup);
  if (std::isfinite(critic.loss.item<double>())) critic.loss.backward();
  finish_gradient_step(
      critic.loss,
      [&] {
        return std::map<std::string, double>{{"critic_loss", critic.loss.item<double>()}};
      },
      critic_optimizer, ranks_);
  if (!warmup) project_critic();  // the warm start (the reference's pretraining) has no constraint

  // 2. Target critic.
  if (!warmup) polyak_update(q_target_module(), q_module(), config_.tau);

  // 3. Temperature, toward the target entropy.
  const at::Tensor entropy = entropy_estimate(policy, log_prob);
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
    const at::Tensor log_likelihood = log_prob_of(*net_, out_s, batch.actions).mean() / density_dims_;
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
  return step_metrics(critic, actor, entropy, alpha_loss, q_policy, alpha, warmup);
}

}  // namespace shardlab
