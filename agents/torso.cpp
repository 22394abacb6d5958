#include "agents/torso.h"

#include <torch/torch.h>

#include <cmath>
#include <mutex>
#include <sstream>

#include "agents/impala_direct.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"

namespace shardlab {
namespace nn = torch::nn;
namespace {

// Bounds that keep every network a spec can ask for buildable; memory is checked separately.
constexpr int64_t kMostChannels = 1024, kMostBlocks = 8, kMostHidden = 16384;

std::vector<int64_t> parse_channels(const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& part : split(text, ',')) {
    const auto v = parse_integer(part);
    if (!v || *v < 1) throw InputError("expected comma-separated positive widths like 16,32,32");
    if (*v > kMostChannels)
      throw InputError("width " + std::to_string(*v) + ": at most " + std::to_string(kMostChannels) +
                       " channels per block (the published maze model has 64,128,128)");
    out.push_back(*v);
  }
  if (out.size() > kMostBlocks)
    throw InputError(std::to_string(out.size()) + " blocks: at most " + std::to_string(kMostBlocks));
  return out;
}

}  // namespace

template <class Keys>
void NetworkConfig::bind(Keys& keys) {
  keys("agent.torso", torso, "network torso: impala (ResNet, image-like obs) or mlp", {"impala", "mlp"});
  keys("agent.channels", channels, "IMPALA block widths (64,128,128 is the published maze model)").check =
      [](const std::string& v) { parse_channels(v); };
  keys("agent.hidden", hidden, "width of the IMPALA fc layer / of each MLP layer").at_least(1).at_most(kMostHidden);
  keys("agent.mlp_layers", mlp_layers, "hidden layers of the MLP torso").at_least(1).at_most(64);
  keys("agent.mlp_activation", mlp_activation, "nonlinearity of the MLP torso", {"tanh", "relu"});
  keys("agent.policy_head", policy_head,
       "continuous-action policy: gaussian (state-independent log-std, unsquashed mean), tanh_gaussian "
       "(state-dependent log-std, tanh-squashed actions in [-1, 1]: ATAC's) or tanh_mean_gaussian (mean "
       "tanh(.), state-independent log-std in [-5, 2], not squashed: IQL's reference); ignored for discrete actions",
       {"gaussian", "tanh_gaussian", "tanh_mean_gaussian"});
  keys("agent.channels_last", channels_last, "run IMPALA convs in channels-last memory format (agent.conv = libtorch)");
  keys("agent.conv", conv,
       "IMPALA convolutions: direct (shardlab's kernels, vectorised over 16 samples: 1.5-2x libtorch's "
       "for the maze's narrow layers, see docs/benchmarks.md) or libtorch (oneDNN); activation taps and "
       "input gradients always use libtorch's",
       {"direct", "libtorch"});
}

void NetworkConfig::declare_keys(SpecSchema& s) { declare_keys_of<NetworkConfig>(s); }

NetworkConfig NetworkConfig::from_spec(const Spec& spec) { return read_keys<NetworkConfig>(spec); }

void with_generator(at::Generator& generator, const std::function<void()>& build) {
  static std::mutex mutex;  // one network at a time borrows the default generator
  std::lock_guard<std::mutex> lock(mutex);
  at::Generator global = at::detail::getDefaultCPUGenerator();
  const at::Tensor saved = global.get_state();
  global.set_state(generator.get_state());
  try {
    build();
  } catch (...) {
    global.set_state(saved);
    throw;
  }
  generator.set_state(global.get_state());
  global.set_state(saved);
}

void orthogonal_init(nn::Module& m, double gain) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters(false)) {
    if (p.key() == "weight") nn::init::orthogonal_(p.value(), gain);
    if (p.key() == "bias") nn::init::zeros_(p.value());
  }
}

at::Tensor tap(ActivationTaps* taps, const std::string& name, at::Tensor x) {
  return taps ? (*taps)(name, std::move(x)) : x;
}

ResBlockImpl::ResBlockImpl(int64_t channels)
    : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)))),
      conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(channels, channels, 3).padding(1)))) {}

at::Tensor ResBlockImpl::forward(at::Tensor x, ActivationTaps* taps, const std::string& name) {
  at::Tensor h = tap(taps, name + ".relu1_out", torch::relu(x));
  h = tap(taps, name + ".conv1_out", conv1->forward(h));
  h = tap(taps, name + ".relu2_out", torch::relu(h));
  h = tap(taps, name + ".conv2_out", conv2->forward(h));
  return tap(taps, name + ".resadd_out", h + x);
}

ConvSequenceImpl::ConvSequenceImpl(int64_t in_channels, int64_t out_channels)
    : conv(register_module("conv", nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 3).padding(1)))),
      res1(register_module("res1", ResBlock(out_channels))),
      res2(register_module("res2", ResBlock(out_channels))) {}

at::Tensor ConvSequenceImpl::forward(at::Tensor x, ActivationTaps* taps, const std::string& name) {
  x = tap(taps, name + ".conv_out", conv->forward(x));
  x = tap(taps, name + ".maxpool_out", torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}));
  x = res1->forward(x, taps, name + ".res1");
  return res2->forward(x, taps, name + ".res2");
}

TorsoImpl::TorsoImpl(const NetworkConfig& config, const ObservationSpec& obs)
    : config_(config), observation_spec_(obs) {
  if (config.torso == "impala") {
    if (obs.shape.size() != 3)
      throw InputError("agent.torso = impala needs (channels, height, width) observations; use agent.torso = mlp");
    int64_t in = obs.shape[0], h = obs.shape[1], w = obs.shape[2];
    for (size_t i = 0; i < config.channels.size(); ++i) {
      blocks_.push_back(register_module("block" + std::to_string(i + 1), ConvSequence(in, config.channels[i])));
      in = config.channels[i];
      h = (h + 1) / 2;  // maxpool k3 s2 p1
      w = (w + 1) / 2;
    }
    fc_ = register_module("fc", nn::Linear(in * h * w, config.hidden));
  } else {
    int64_t in = obs.size();
    for (int64_t i = 0; i < config.mlp_layers; ++i) {
      mlp_.push_back(register_module("fc" + std::to_string(i + 1), nn::Linear(in, config.hidden)));
      in = config.hidden;
    }
  }
  features_ = config.hidden;
}

void TorsoImpl::init_weights() {
  for (auto& block : blocks_)
    for (auto& m : block->modules()) orthogonal_init(*m, std::sqrt(2.0));
  for (auto& layer : mlp_) orthogonal_init(*layer, std::sqrt(2.0));
  if (fc_) orthogonal_init(*fc_, std::sqrt(2.0));
}

void TorsoImpl::apply_memory_format() {
  if (blocks_.empty() || !config_.channels_last) return;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

std::vector<at::Tensor> TorsoImpl::conv_parameters() const {
  std::vector<at::Tensor> out;
  for (const ConvSequence& b : blocks_)
    for (const torch::nn::Conv2d& conv : {b->conv, b->res1->conv1, b->res1->conv2, b->res2->conv1, b->res2->conv2}) {
      out.push_back(conv->weight);
      out.push_back(conv->bias);
    }
  return out;
}

at::Tensor TorsoImpl::forward(const at::Tensor& obs, ActivationTaps* taps) {
  at::Tensor x;
  if (!blocks_.empty()) {
    const auto& s = observation_spec_.shape;
    x = obs.reshape({-1, s[0], s[1], s[2]});
    // The direct path gives no gradient to the observations: a caller that asks for one (saliency)
    // gets libtorch's path, as do activation taps.
    if (!taps && config_.conv == "direct" && !x.requires_grad() && x.scalar_type() == at::kFloat && x.device().is_cpu())
      return torch::relu(fc_->forward(impala_direct_features(x, conv_parameters())));
    if (config_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    for (size_t i = 0; i < blocks_.size(); ++i)
      x = blocks_[i]->forward(x, taps, "embedder.block" + std::to_string(i + 1));
    x = tap(taps, "embedder.relu3_out", torch::relu(x));
    x = tap(taps, "embedder.flatten_out", x.contiguous().flatten(1));
    x = tap(taps, "embedder.fc_out", fc_->forward(x));
    return tap(taps, "embedder.relufc_out", torch::relu(x));
  }
  x = obs.reshape({obs.size(0), -1});
  for (size_t i = 0; i < mlp_.size(); ++i) {
    x = tap(taps, "embedder.fc" + std::to_string(i + 1) + "_out", mlp_[i]->forward(x));
    if (config_.mlp_activation == "relu")
      x = tap(taps, "embedder.relu" + std::to_string(i + 1) + "_out", torch::relu(x));
    else
      x = tap(taps, "embedder.tanh" + std::to_string(i + 1) + "_out", torch::tanh(x));
  }
  return x;
}

std::vector<std::string> tap_names(const ObservationSpec& obs,
                                   const std::function<void(const at::Tensor&, ActivationTaps*)>& forward) {
  torch::NoGradGuard no_grad;
  ActivationTaps taps;
  std::vector<std::string> names;
  taps.list_names(&names);
  std::vector<int64_t> shape = {1};
  shape.insert(shape.end(), obs.shape.begin(), obs.shape.end());
  forward(torch::zeros(shape), &taps);
  return names;
}

}  // namespace shardlab
