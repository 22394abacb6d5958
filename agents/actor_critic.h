// The policy networks: an IMPALA ResNet torso for image-like observations (procgen-tools'
// module names, so a paper's layer names map one to one), an MLP torso for vector
// observations, a categorical or diagonal-Gaussian policy head and a value head.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

#include "agents/activation_taps.h"
#include "core/experience.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct NetworkConfig {
  std::string torso = "impala";                // impala | mlp
  std::vector<int64_t> channels = {16, 32, 32};  // IMPALA block widths
  int64_t hidden = 256;                        // IMPALA fc width / MLP layer width
  int64_t mlp_layers = 2;
  bool channels_last = true;  // IMPALA convs in channels-last memory format (about 3x faster on CPU)

  static NetworkConfig from_spec(const Spec& spec);
};

void declare_network_keys(SpecSchema& schema);

// One residual block: relu -> conv1 -> relu -> conv2 -> add the input.
class ResBlockImpl : public torch::nn::Module {
 public:
  explicit ResBlockImpl(int64_t channels);
  at::Tensor forward(at::Tensor x, ActivationTaps* taps, const std::string& name);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(ResBlock);

// conv -> maxpool(3, stride 2, pad 1) -> res1 -> res2.
class ConvSequenceImpl : public torch::nn::Module {
 public:
  ConvSequenceImpl(int64_t in_channels, int64_t out_channels);
  at::Tensor forward(at::Tensor x, ActivationTaps* taps, const std::string& name);
  torch::nn::Conv2d conv{nullptr};
  ResBlock res1{nullptr}, res2{nullptr};
};
TORCH_MODULE(ConvSequence);

// Outputs of one forward pass: logits (categorical) or means (Gaussian), and state values.
struct PolicyOutput {
  at::Tensor logits_or_mean;  // (batch, num_actions) or (batch, dim)
  at::Tensor value;           // (batch,)
};

class ActorCriticImpl : public torch::nn::Module {
 public:
  ActorCriticImpl(const NetworkConfig& config, const ObservationSpec& obs, const ActionSpec& act);

  // obs: (batch, obs...) float. taps may be null.
  PolicyOutput forward(const at::Tensor& obs, ActivationTaps* taps = nullptr);

  // Every activation name a tap can see, in forward order.
  const std::vector<std::string>& layer_names() const { return layer_names_; }
  const ActionSpec& action_spec() const { return action_spec_; }
  const ObservationSpec& observation_spec() const { return observation_spec_; }
  const NetworkConfig& config() const { return config_; }

  // Gaussian heads: state-independent log standard deviation, initialised to 0.
  at::Tensor log_std;

 private:
  NetworkConfig config_;
  ObservationSpec observation_spec_;
  ActionSpec action_spec_;
  std::vector<ConvSequence> blocks_;
  std::vector<torch::nn::Linear> mlp_;
  torch::nn::Linear fc_{nullptr}, fc_policy_{nullptr}, fc_value_{nullptr};
  std::vector<std::string> layer_names_;
};
TORCH_MODULE(ActorCritic);

// Distribution helpers over a forward pass's policy output.
struct ActionSample {
  at::Tensor action;    // (batch,) int64 or (batch, dim) float
  at::Tensor log_prob;  // (batch,)
};
ActionSample sample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen);
// The mode: argmax of the logits, or the mean.
at::Tensor greedy_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean);
at::Tensor log_prob_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, const at::Tensor& action);
at::Tensor entropy_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean);

}  // namespace shardlab
