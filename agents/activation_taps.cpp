#include "agents/activation_taps.h"

#include <ATen/ATen.h>

namespace shardlab {

at::Tensor ActivationTaps::operator()(const std::string& layer, at::Tensor x) {
  if (names_) names_->push_back(layer);
  const auto it = patches_.find(layer);
  if (it != patches_.end()) {
    for (const auto& patch : it->second) {
      at::Tensor y = patch(x);
      TORCH_CHECK(y.sizes() == x.sizes(), "patch of ", layer, " changed the activation's shape");
      x = y;
    }
  }
  if (record_all_ || record_.count(layer)) recorded_[layer] = x.detach();
  return x;
}

std::vector<std::string> ActivationTaps::unused(const std::vector<std::string>& network_layers) const {
  const std::set<std::string> known(network_layers.begin(), network_layers.end());
  std::vector<std::string> out;
  for (const auto& layer : record_)
    if (!known.count(layer)) out.push_back(layer);
  for (const auto& [layer, p] : patches_)
    if (!known.count(layer)) out.push_back(layer);
  return out;
}

ActivationPatch add_vector(const at::Tensor& vector, double coeff) {
  return [vector, coeff](const at::Tensor& x) { return x + coeff * vector.to(x.device()).expand_as(x); };
}

ActivationPatch set_channels(const std::vector<int64_t>& channels, double value) {
  return [channels, value](const at::Tensor& x) {
    at::Tensor y = x.clone();
    for (int64_t c : channels) y.select(1, c).fill_(value);
    return y;
  };
}

ActivationPatch set_channel_at(int64_t channel, int64_t h, int64_t w, double value) {
  return [=](const at::Tensor& x) {
    at::Tensor y = x.clone();
    y.select(1, channel).select(1, h).select(1, w).fill_(value);
    return y;
  };
}

}  // namespace shardlab
