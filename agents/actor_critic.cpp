#include "agents/actor_critic.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/memory.h"
#include "core/text.h"

namespace shardlab {
namespace nn = torch::nn;
namespace {

const double kLogStdMin = std::log(1e-5);
const double kLogStdMax = std::log(10.0);
// tanh_mean_gaussian: the IQL reference's clamp of its state-independent log-std (policy.py:
// log_std_min = -5 passed by its learner, LOG_STD_MAX = 2).
constexpr double kTanhMeanLogStdMin = -5.0, kTanhMeanLogStdMax = 2.0;
const double kHalfLog2Pi = 0.5 * std::log(2 * M_PI);
constexpr double kActionBound = 1.0 - 1e-6;  // tanh_gaussian: dataset actions clamped into the open interval

at::Tensor tanh_mean(const at::Tensor& out) { return out.narrow(1, 0, out.size(1) / 2); }
at::Tensor tanh_log_std(const at::Tensor& out) { return out.narrow(1, out.size(1) / 2, out.size(1) / 2); }

// log N(u; mean, exp(log_std)) summed over dimensions.
at::Tensor gaussian_log_prob(const at::Tensor& u, const at::Tensor& mean, const at::Tensor& log_std) {
  const at::Tensor z = (u - mean) * (-log_std).exp();
  return (-0.5 * z.pow(2) - log_std - kHalfLog2Pi).sum(1);
}

// sum log(1 - tanh(u)^2), computed as 2 (log 2 - u - softplus(-2u)) to stay finite for large |u|.
at::Tensor log_tanh_jacobian(const at::Tensor& u) {
  return (2.0 * (std::log(2.0) - u - torch::softplus(-2.0 * u))).sum(1);
}

}  // namespace

ActorCriticImpl::ActorCriticImpl(const NetworkConfig& config, const ObservationSpec& obs, const ActionSpec& act,
                                 at::Generator& init)
    : observation_spec_(obs),
      action_spec_(act),
      tanh_gaussian_(!act.discrete && config.policy_head == "tanh_gaussian"),
      tanh_mean_(!act.discrete && config.policy_head == "tanh_mean_gaussian") {
  if (!act.discrete && config.policy_head != "gaussian" && !tanh_gaussian_ && !tanh_mean_)
    throw InputError("agent.policy_head = '" + config.policy_head +
                     "': expected gaussian, tanh_gaussian or tanh_mean_gaussian");
  if ((tanh_gaussian_ || tanh_mean_) && (act.low != -1.0f || act.high != 1.0f))
    throw InputError("agent.policy_head = " + config.policy_head +
                     " keeps actions (or their mean) in [-1, 1], but the actions range over [" +
                     std::to_string(act.low) + ", " + std::to_string(act.high) + "]");
  with_generator(init, [&] {
    torso_ = register_module("embedder", Torso(config, obs));
    const int64_t outputs = act.discrete ? act.num_actions : (tanh_gaussian_ ? 2 * act.dim : act.dim);
    fc_policy_ = register_module("fc_policy", nn::Linear(torso_->features(), outputs));
    fc_value_ = register_module("fc_value", nn::Linear(torso_->features(), 1));
    if (!act.discrete && !tanh_gaussian_) log_std = register_parameter("log_std", torch::zeros({act.dim}));
    torso_->init_weights();
    orthogonal_init(*fc_policy_, 0.01);
    orthogonal_init(*fc_value_, 1.0);
  });
  torso_->apply_memory_format();
  layer_names_ = tap_names(obs, [this](const at::Tensor& x, ActivationTaps* taps) { forward(x, taps); });
}

PolicyOutput ActorCriticImpl::forward(const at::Tensor& obs, ActivationTaps* taps) {
  const at::Tensor x = torso_->forward(obs, taps);
  PolicyOutput out;
  out.logits_or_mean = tap(taps, "fc_policy_out", fc_policy_->forward(x));
  if (tanh_mean_) out.logits_or_mean = torch::tanh(out.logits_or_mean);
  if (tanh_gaussian_) {
    const int64_t dim = action_spec_.dim;
    out.logits_or_mean = torch::cat(
        {out.logits_or_mean.narrow(1, 0, dim), out.logits_or_mean.narrow(1, dim, dim).clamp(kLogStdMin, kLogStdMax)},
        1);
  }
  out.value = tap(taps, "fc_value_out", fc_value_->forward(x)).squeeze(1);
  return out;
}

at::Tensor ActorCriticImpl::gaussian_log_std() const {
  return tanh_mean_ ? log_std.clamp(kTanhMeanLogStdMin, kTanhMeanLogStdMax) : log_std;
}

void ActorCriticImpl::init_linear_defaults(at::Generator& init) {
  torch::NoGradGuard no_grad;
  with_generator(init, [&] {
    for (const auto& m : modules(/*include_self=*/false))
      if (auto* linear = dynamic_cast<nn::LinearImpl*>(m.get())) linear->reset_parameters();
  });
  if (tanh_gaussian_) {
    const int64_t dim = action_spec_.dim;
    fc_policy_->weight.narrow(0, dim, dim).zero_();
    fc_policy_->bias.narrow(0, dim, dim).zero_();
  }
}

ActionSample sample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen) {
  if (net.tanh_gaussian()) return rsample_action(net, logits_or_mean, gen);
  ActionSample s;
  if (net.action_spec().discrete) {
    const at::Tensor probs = torch::softmax(logits_or_mean, 1);
    s.action = at::multinomial(probs, 1, /*replacement=*/true, gen).squeeze(1);
  } else {
    const at::Tensor noise = at::randn(logits_or_mean.sizes(), gen, logits_or_mean.options());
    s.action = logits_or_mean + noise * net.gaussian_log_std().exp();
  }
  s.log_prob = log_prob_of(net, logits_or_mean, s.action);
  return s;
}

ActionSample rsample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen) {
  if (net.action_spec().discrete) throw Error("rsample_action: discrete actions have no reparameterised sample");
  ActionSample s;
  if (net.tanh_gaussian()) {
    const at::Tensor mean = tanh_mean(logits_or_mean), log_std = tanh_log_std(logits_or_mean);
    const at::Tensor u = mean + at::randn(mean.sizes(), gen, mean.options()) * log_std.exp();
    s.action = torch::tanh(u);
    s.log_prob = gaussian_log_prob(u, mean, log_std) - log_tanh_jacobian(u);
    return s;
  }
  const at::Tensor noise = at::randn(logits_or_mean.sizes(), gen, logits_or_mean.options());
  s.action = logits_or_mean + noise * net.gaussian_log_std().exp();
  s.log_prob = log_prob_of(net, logits_or_mean, s.action);
  return s;
}

at::Tensor greedy_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean) {
  if (net.tanh_gaussian()) return torch::tanh(tanh_mean(logits_or_mean));
  return net.action_spec().discrete ? logits_or_mean.argmax(1) : logits_or_mean;
}

at::Tensor log_prob_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, const at::Tensor& action) {
  if (net.action_spec().discrete)
    return torch::log_softmax(logits_or_mean, 1).gather(1, action.unsqueeze(1)).squeeze(1);
  if (net.tanh_gaussian()) {
    const at::Tensor u = torch::atanh(action.clamp(-kActionBound, kActionBound));
    return gaussian_log_prob(u, tanh_mean(logits_or_mean), tanh_log_std(logits_or_mean)) - log_tanh_jacobian(u);
  }
  const at::Tensor log_std = net.gaussian_log_std();
  const at::Tensor var = (2 * log_std).exp();
  const at::Tensor lp = -(action - logits_or_mean).pow(2) / (2 * var) - log_std - 0.5 * std::log(2 * M_PI);
  return lp.sum(1);
}

at::Tensor entropy_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean) {
  if (net.action_spec().discrete) {
    const at::Tensor logp = torch::log_softmax(logits_or_mean, 1);
    return -(logp.exp() * logp).sum(1);
  }
  if (net.tanh_gaussian()) {
    const at::Tensor log_std = tanh_log_std(logits_or_mean);
    return (0.5 + kHalfLog2Pi + log_std).sum(1) + log_tanh_jacobian(tanh_mean(logits_or_mean));
  }
  const at::Tensor per_dim = 0.5 + 0.5 * std::log(2 * M_PI) + net.gaussian_log_std();
  return per_dim.sum().expand({logits_or_mean.size(0)});
}

void require_network_memory(const Spec& spec, const ObservationSpec& obs, const ActionSpec& act, int64_t rows,
                            int networks, const std::string& rows_what) {
  double parameters = 0, activations = 0;
  // The probe's layers draw their default initialisation from the global generator: it is put
  // back as it was, so a run's numbers do not depend on the check.
  at::Generator global = at::detail::getDefaultCPUGenerator();
  const at::Tensor global_state = global.get_state();
  struct Restore {
    at::Generator& generator;
    const at::Tensor& state;
    ~Restore() { generator.set_state(state); }
  } restore{global, global_state};
  try {
    torch::NoGradGuard no_grad;
    at::Generator init = at::detail::createCPUGenerator(0);
    ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
    for (const auto& p : net->parameters()) parameters += static_cast<double>(p.numel());
    ActivationTaps taps;
    taps.record_all();
    std::vector<int64_t> shape = {1};
    shape.insert(shape.end(), obs.shape.begin(), obs.shape.end());
    net->forward(torch::zeros(shape), &taps);
    for (const auto& [name, t] : taps.recorded()) activations += static_cast<double>(t.numel());
  } catch (const c10::Error& e) {
    throw InputError("agent.*: the network cannot be built: " + first_line(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    throw InputError("agent.channels / agent.hidden: the network alone does not fit in memory");
  }
  // Weights, gradients and two Adam moments; each activation kept, its gradient and a mask.
  const double bytes = networks * (16.0 * parameters + 12.0 * activations * static_cast<double>(rows));
  char what[160];
  std::snprintf(what, sizeof what, "training %d network%s of %.3g parameters and %.3g activations per sample", networks,
                networks == 1 ? "" : "s", parameters, activations);
  require_memory(bytes, std::string(what) + " with " + rows_what, "lower agent.channels / agent.hidden or the batch");
}

}  // namespace shardlab
