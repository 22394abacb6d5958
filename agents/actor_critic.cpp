#include "agents/actor_critic.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"

namespace shardlab {
namespace nn = torch::nn;

namespace {

at::Tensor tap(ActivationTaps* taps, const std::string& name, at::Tensor x) {
  return taps ? (*taps)(name, std::move(x)) : x;
}

// Orthogonal weights with the given gain and zero biases (PPO detail 2).
void orthogonal_init(nn::Module& m, double gain) {
  for (auto& p : m.named_parameters(false)) {
    if (p.key() == "weight") torch::nn::init::orthogonal_(p.value(), gain);
    if (p.key() == "bias") torch::nn::init::zeros_(p.value());
  }
}

std::vector<int64_t> parse_channels(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream s(text);
  std::string part;
  while (std::getline(s, part, ',')) {
    const auto v = parse_integer(part);
    if (!v || *v < 1) throw InputError("expected comma-separated positive widths like 16,32,32");
    out.push_back(*v);
  }
  if (out.empty()) throw InputError("expected comma-separated positive widths like 16,32,32");
  return out;
}

}  // namespace

void declare_network_keys(SpecSchema& schema) {
  schema.add("agent.torso", KeyType::kString, "impala", "network torso: impala (ResNet, image-like obs) or mlp")
      .choices = {"impala", "mlp"};
  schema.add("agent.channels", KeyType::kString, "16,32,32",
             "IMPALA block widths (64,128,128 is the published maze model)")
      .check = [](const std::string& v) { parse_channels(v); };
  schema.add("agent.hidden", KeyType::kInt, "256", "width of the IMPALA fc layer / of each MLP layer");
  schema.add("agent.mlp_layers", KeyType::kInt, "2", "hidden layers of the MLP torso");
  schema.add("agent.channels_last", KeyType::kBool, "true", "run IMPALA convs in channels-last memory format");
}

NetworkConfig NetworkConfig::from_spec(const Spec& spec) {
  NetworkConfig c;
  c.torso = spec.get_string("agent.torso");
  c.channels = parse_channels(spec.get_string("agent.channels"));
  c.hidden = spec.get_int("agent.hidden");
  c.mlp_layers = spec.get_int("agent.mlp_layers");
  c.channels_last = spec.get_bool("agent.channels_last");
  if (c.hidden < 1) throw InputError("agent.hidden: expected at least 1");
  if (c.mlp_layers < 1) throw InputError("agent.mlp_layers: expected at least 1");
  return c;
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

ActorCriticImpl::ActorCriticImpl(const NetworkConfig& config, const ObservationSpec& obs, const ActionSpec& act)
    : config_(config), observation_spec_(obs), action_spec_(act) {
  auto embedder = std::make_shared<nn::Module>();
  int64_t features = 0;
  if (config.torso == "impala") {
    if (obs.shape.size() != 3)
      throw InputError("agent.torso = impala needs (channels, height, width) observations; use agent.torso = mlp");
    int64_t in = obs.shape[0], h = obs.shape[1], w = obs.shape[2];
    for (size_t i = 0; i < config.channels.size(); ++i) {
      const std::string name = "block" + std::to_string(i + 1);
      blocks_.push_back(embedder->register_module(name, ConvSequence(in, config.channels[i])));
      for (const char* part : {".conv_out", ".maxpool_out"}) layer_names_.push_back("embedder." + name + part);
      for (const char* res : {".res1", ".res2"})
        for (const char* part : {".relu1_out", ".conv1_out", ".relu2_out", ".conv2_out", ".resadd_out"})
          layer_names_.push_back("embedder." + name + res + part);
      in = config.channels[i];
      h = (h + 1) / 2;  // maxpool k3 s2 p1
      w = (w + 1) / 2;
    }
    features = in * h * w;
    for (const char* n : {"embedder.relu3_out", "embedder.flatten_out"}) layer_names_.push_back(n);
    fc_ = embedder->register_module("fc", nn::Linear(features, config.hidden));
    for (const char* n : {"embedder.fc_out", "embedder.relufc_out"}) layer_names_.push_back(n);
    features = config.hidden;
  } else {
    features = obs.size();
    for (int64_t i = 0; i < config.mlp_layers; ++i) {
      const std::string name = "fc" + std::to_string(i + 1);
      mlp_.push_back(embedder->register_module(name, nn::Linear(features, config.hidden)));
      layer_names_.push_back("embedder." + name + "_out");
      layer_names_.push_back("embedder.tanh" + std::to_string(i + 1) + "_out");
      features = config.hidden;
    }
  }
  register_module("embedder", embedder);
  const int64_t outputs = act.discrete ? act.num_actions : act.dim;
  fc_policy_ = register_module("fc_policy", nn::Linear(features, outputs));
  fc_value_ = register_module("fc_value", nn::Linear(features, 1));
  layer_names_.push_back("fc_policy_out");
  layer_names_.push_back("fc_value_out");
  if (!act.discrete) log_std = register_parameter("log_std", torch::zeros({act.dim}));

  torch::NoGradGuard no_grad;
  for (auto& block : blocks_)
    for (auto& m : block->modules()) orthogonal_init(*m, std::sqrt(2.0));
  for (auto& layer : mlp_) orthogonal_init(*layer, std::sqrt(2.0));
  if (fc_) orthogonal_init(*fc_, std::sqrt(2.0));
  orthogonal_init(*fc_policy_, 0.01);
  orthogonal_init(*fc_value_, 1.0);
  if (!blocks_.empty() && config.channels_last)
    for (auto& p : parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
}

PolicyOutput ActorCriticImpl::forward(const at::Tensor& obs, ActivationTaps* taps) {
  at::Tensor x;
  if (!blocks_.empty()) {
    x = obs.reshape({-1, observation_spec_.shape[0], observation_spec_.shape[1], observation_spec_.shape[2]});
    if (config_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    for (size_t i = 0; i < blocks_.size(); ++i) x = blocks_[i]->forward(x, taps, "embedder.block" + std::to_string(i + 1));
    x = tap(taps, "embedder.relu3_out", torch::relu(x));
    x = tap(taps, "embedder.flatten_out", x.contiguous().flatten(1));
    x = tap(taps, "embedder.fc_out", fc_->forward(x));
    x = tap(taps, "embedder.relufc_out", torch::relu(x));
  } else {
    x = obs.reshape({obs.size(0), -1});
    for (size_t i = 0; i < mlp_.size(); ++i) {
      x = tap(taps, "embedder.fc" + std::to_string(i + 1) + "_out", mlp_[i]->forward(x));
      x = tap(taps, "embedder.tanh" + std::to_string(i + 1) + "_out", torch::tanh(x));
    }
  }
  PolicyOutput out;
  out.logits_or_mean = tap(taps, "fc_policy_out", fc_policy_->forward(x));
  out.value = tap(taps, "fc_value_out", fc_value_->forward(x)).squeeze(1);
  return out;
}

ActionSample sample_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, at::Generator& gen) {
  ActionSample s;
  if (net.action_spec().discrete) {
    const at::Tensor probs = torch::softmax(logits_or_mean, 1);
    s.action = at::multinomial(probs, 1, /*replacement=*/true, gen).squeeze(1);
  } else {
    const at::Tensor noise = at::randn(logits_or_mean.sizes(), gen, logits_or_mean.options());
    s.action = logits_or_mean + noise * net.log_std.exp();
  }
  s.log_prob = log_prob_of(net, logits_or_mean, s.action);
  return s;
}

at::Tensor greedy_action(const ActorCriticImpl& net, const at::Tensor& logits_or_mean) {
  return net.action_spec().discrete ? logits_or_mean.argmax(1) : logits_or_mean;
}

at::Tensor log_prob_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean, const at::Tensor& action) {
  if (net.action_spec().discrete)
    return torch::log_softmax(logits_or_mean, 1).gather(1, action.unsqueeze(1)).squeeze(1);
  const at::Tensor var = (2 * net.log_std).exp();
  const at::Tensor lp = -(action - logits_or_mean).pow(2) / (2 * var) - net.log_std - 0.5 * std::log(2 * M_PI);
  return lp.sum(1);
}

at::Tensor entropy_of(const ActorCriticImpl& net, const at::Tensor& logits_or_mean) {
  if (net.action_spec().discrete) {
    const at::Tensor logp = torch::log_softmax(logits_or_mean, 1);
    return -(logp.exp() * logp).sum(1);
  }
  const at::Tensor per_dim = 0.5 + 0.5 * std::log(2 * M_PI) + net.log_std;
  return per_dim.sum().expand({logits_or_mean.size(0)});
}

}  // namespace shardlab
