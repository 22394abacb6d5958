// Named activation taps: every network calls taps("embedder.block2.res1.resadd_out", x) at each
// named module output, so one forward pass can record any set of activations and patch any of
// them (add a vector, overwrite channels or positions, or any function). Analysis reads
// networks only through this interface. Names follow procgen-tools: module path + "_out".
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace shardlab {

// Maps an activation (batch, ...) to its replacement of the same shape.
using ActivationPatch = std::function<at::Tensor(const at::Tensor&)>;

class ActivationTaps {
 public:
  // Record this layer's activation (after any patch) on the next forward passes.
  void record(const std::string& layer) { record_.insert(layer); }
  void record_all() { record_all_ = true; }
  // Patches of one layer apply in the order they were added.
  void add_patch(const std::string& layer, ActivationPatch patch) { patches_[layer].push_back(std::move(patch)); }
  void clear_patches() { patches_.clear(); }

  const std::map<std::string, at::Tensor>& recorded() const { return recorded_; }
  void clear_recorded() { recorded_.clear(); }

  // Called by networks at every named activation; returns what flows on downstream.
  at::Tensor operator()(const std::string& layer, at::Tensor x);

  // Appends every layer name the network passes, in order (how networks list their layers).
  void list_names(std::vector<std::string>* names) { names_ = names; }

  // Layers named by record() or add_patch() that the network never reached (typos).
  std::vector<std::string> unused(const std::vector<std::string>& network_layers) const;

 private:
  std::set<std::string> record_;
  bool record_all_ = false;
  std::map<std::string, std::vector<ActivationPatch>> patches_;
  std::map<std::string, at::Tensor> recorded_;
  std::vector<std::string>* names_ = nullptr;
};

// Patches used by the studies.
// Adds coeff * vector (broadcast over the batch) to the activation.
ActivationPatch add_vector(const at::Tensor& vector, double coeff);
// Sets channels (dim 1) to `value` everywhere.
ActivationPatch set_channels(const std::vector<int64_t>& channels, double value);
// Sets one channel at one spatial position (h, w) to `value`.
ActivationPatch set_channel_at(int64_t channel, int64_t h, int64_t w, double value);

}  // namespace shardlab
