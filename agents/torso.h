// The network torso every learner shares: an IMPALA ResNet for image-like observations (the
// studied maze network, with procgen-tools' module and activation names) or an MLP for vector
// observations, ending in a feature vector. An actor-critic (agents/actor_critic.h) and the
// offline learners' Q-networks put their heads on it. Registered as "embedder", so activation
// names read `embedder.block2.res1.resadd_out` as in the papers.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <functional>
#include <string>
#include <vector>

#include "agents/activation_taps.h"
#include "core/experience.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct NetworkConfig {
  std::string torso = "impala";                  // impala | mlp
  std::vector<int64_t> channels = {16, 32, 32};  // IMPALA block widths
  int64_t hidden = 256;                          // IMPALA fc width / MLP layer width
  int64_t mlp_layers = 2;
  std::string mlp_activation = "tanh";  // tanh | relu: the MLP torso's nonlinearity
  // Continuous actions: gaussian (state-independent log-std, unsquashed mean) | tanh_gaussian
  // (state-dependent mean and log-std, actions squashed by tanh into [-1, 1]; the offline
  // learners' actor) | tanh_mean_gaussian (mean tanh(.), state-independent log-std clamped to
  // [-5, 2], the Gaussian not squashed: IQL's reference policy). Ignored for discrete actions.
  std::string policy_head = "gaussian";
  bool channels_last = true;  // IMPALA convs in channels-last memory format (about 3x faster on CPU)
  // IMPALA convolutions: direct (agents/impala_direct.h, vectorised over the batch) | libtorch (oneDNN).
  // Activation taps always run libtorch's path.
  std::string conv = "direct";

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);  // agent.torso, agent.channels, ...
  static NetworkConfig from_spec(const Spec& spec);
};

// Runs `build` with torch's default CPU generator set to `generator`'s state, then hands the
// advanced state back: libtorch's module constructors and init functions draw from the default
// generator, and this makes a network's initial weights a function of the generator passed in
// alone. Not for concurrent use with other code drawing from the default generator.
void with_generator(at::Generator& generator, const std::function<void()>& build);

// Orthogonal weights with the given gain and zero biases (PPO detail 2), on `m`'s own parameters.
void orthogonal_init(torch::nn::Module& m, double gain);

// A tap point: records or patches the activation when taps are given.
at::Tensor tap(ActivationTaps* taps, const std::string& name, at::Tensor x);

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

class TorsoImpl : public torch::nn::Module {
 public:
  // Builds the layers with libtorch's default initialisation; the owner calls init_weights()
  // once all its modules exist (the draw order of the first checkpoint format, so runs reproduce).
  TorsoImpl(const NetworkConfig& config, const ObservationSpec& obs);

  // obs: (batch, obs...) -> (batch, features()).
  at::Tensor forward(const at::Tensor& obs, ActivationTaps* taps = nullptr);
  int64_t features() const { return features_; }
  // Orthogonal weights, gain sqrt(2), zero biases.
  void init_weights();
  // IMPALA weights in channels-last memory format when configured.
  void apply_memory_format();
  const NetworkConfig& config() const { return config_; }
  // The IMPALA convolutions' weights and biases in impala_direct_features' order.
  std::vector<at::Tensor> conv_parameters() const;

 private:
  NetworkConfig config_;
  ObservationSpec observation_spec_;
  std::vector<ConvSequence> blocks_;
  std::vector<torch::nn::Linear> mlp_;
  torch::nn::Linear fc_{nullptr};
  int64_t features_ = 0;
};
TORCH_MODULE(Torso);

// Every activation name `forward` passes to its taps, in order: found by one forward pass on a
// zero observation, so the names are written once, at the tap calls.
std::vector<std::string> tap_names(const ObservationSpec& obs,
                                   const std::function<void(const at::Tensor&, ActivationTaps*)>& forward);

}  // namespace shardlab
