// The actor-critic of PPO and REINFORCE (and the acting policy of the offline learners): the
// shared torso (agents/torso.h), then a policy head (`fc_policy`) and a value head (`fc_value`).
// Policy heads (NetworkConfig::policy_head): categorical for discrete actions; for continuous
// actions "gaussian" (a diagonal Gaussian with a state-independent log-std parameter),
// "tanh_gaussian" (fc_policy gives mean and log-std, log-std clamped to [log 1e-5, log 10],
// action = tanh(mean + std * eps) in [-1, 1]: the actor of ATAC and SAC) or "tanh_mean_gaussian"
// (IQL's reference policy, ikostrikov/implicit_q_learning's NormalTanhPolicy with
// state_dependent_std=False and tanh_squash_distribution=False: mean = tanh(fc_policy), a
// state-independent log-std clamped to [-5, 2], the Gaussian itself not squashed).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

#include "agents/activation_taps.h"
#include "agents/torso.h"
#include "core/experience.h"

namespace shardlab {

class Spec;

// Outputs of one forward pass: logits (categorical) or means (Gaussian), and state values.
// For the tanh_gaussian head logits_or_mean is (batch, 2 * dim): the means of the pre-tanh
// Gaussian, then its clamped log-stds; the helpers below read it whole.
struct PolicyOutput {
  at::Tensor logits_or_mean;  // (batch, num_actions), (batch, dim) or (batch, 2 * dim)
  at::Tensor value;           // (batch,)
};

class ActorCriticImpl : public torch::nn::Module {
 public:
  // Initial weights come from `init` alone (orthogonal, PPO detail 2).
  ActorCriticImpl(const NetworkConfig& config, const ObservationSpec& obs, const ActionSpec& act, at::Generator& init);

  // obs: (batch, obs...) float. taps may be null.
  PolicyOutput forward(const at::Tensor& obs, ActivationTaps* taps = nullptr);

  // Every activation name a tap can see, in forward order.
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const ActionSpec& action_spec() const { return action_spec_; }
  const ObservationSpec& observation_spec() const { return observation_spec_; }
  const NetworkConfig& config() const { return torso_->config(); }

  // True for the tanh_gaussian head (continuous actions only).
  bool tanh_gaussian() const { return tanh_gaussian_; }

  // Redraws every linear layer with PyTorch's nn.Linear default (weights and biases
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in))) from `init` alone, replacing the orthogonal initialisation;
  // the tanh_gaussian head's log-std rows then get zero weights and biases (std 1 in every state).
  // lightATAC's GaussianPolicy, for the offline learners that follow it (atac.actor_init).
  void init_linear_defaults(at::Generator& init);

  // The gaussian and tanh_mean_gaussian heads' state-independent log standard deviation,
  // initialised to 0 (undefined for the other heads).
  at::Tensor log_std;
  // log_std as the distribution uses it: clamped to [-5, 2] for tanh_mean_gaussian, as is otherwise.
  at::Tensor gaussian_log_std() const;

 private:
  ObservationSpec observation_spec_;
  ActionSpec action_spec_;
  bool tanh_gaussian_ = false;
  bool tanh_mean_ = false;  // tanh_mean_gaussian
  Torso torso_{nullptr};
  torch::nn::Linear fc_policy_{nullptr}, fc_value_{nullptr};
  std::vector<std::string> layer_names_;
};
TORCH_MODULE(ActorCritic);

// Distribution helpers over a forward pass's policy output.
struct ActionSample {
  at::Tensor action;    // (batch,) int64 or (batch, dim) float
  at::Tensor log_prob;  // (batch,)
};
ActionSample sample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen);
// Continuous heads: a reparameterised sample, action and log-prob differentiable in the network's
// outputs (the actor losses of ATAC and SAC). Error for discrete actions.
ActionSample rsample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen);
// The mode: argmax of the logits, the mean, or tanh(mean) for tanh_gaussian.
at::Tensor greedy_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean);
// tanh_gaussian: log N(atanh(a)) - sum log(1 - a^2) with a clamped to |a| <= 1 - 1e-6, so dataset
// actions on the bounds have a finite likelihood.
at::Tensor log_prob_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, const at::Tensor& action);
// tanh_gaussian has no closed form: the pre-tanh Gaussian's entropy plus the log-Jacobian
// sum log(1 - tanh(mean)^2) at the mean (a deterministic first-order estimate; learners that need
// an unbiased one use -log_prob of an rsample_action).
at::Tensor entropy_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean);

// Refuses (InputError, before any run folder exists) a network that cannot be built or whose
// training would not fit in memory: `networks` copies of the spec's network (agent.*), each with
// its weights, gradients and Adam's two moments, and the activations of `rows` samples kept for the
// backward pass. The activations per sample are measured by one forward pass of a single zero
// observation. `rows_what` names the keys that set `rows` ("offline.batch_size = 256").
void require_network_memory(const Spec& spec, const ObservationSpec& obs, const ActionSpec& act, int64_t rows,
                            int networks, const std::string& rows_what);

}  // namespace shardlab
