// Critics of the offline learners. Continuous actions: Q(s, a) = ReLU MLP on concat(flattened s,
// a), with the twin heads as one module whose weights are stacked (heads, in, out) so both heads
// (and several inputs) cost one batched matmul per layer. Discrete actions: Q(s, .) = the shared
// torso (agents/torso.h, the agent.* keys) then Linear(num_actions), two such modules for the
// twins. V(s) for IQL: a one-head MLP, or torso + Linear(1). Initial weights come from the
// generator passed in alone.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "agents/torso.h"
#include "core/experience.h"

namespace shardlab {

// What a forward pass without autograd keeps for its backward: the input of every layer (each
// hidden layer's input is the previous layer's ReLU output, which also gives the ReLU's mask).
struct MlpTape {
  std::vector<at::Tensor> inputs;
};

// `heads` independent ReLU MLPs (`layers` hidden layers of `hidden` units) evaluated together.
// Each layer is PyTorch's Linear default: weights and biases U(-1/sqrt(in), 1/sqrt(in)).
class StackedMlpImpl : public torch::nn::Module {
 public:
  StackedMlpImpl(int64_t heads, int64_t inputs, int64_t hidden, int64_t layers, int64_t outputs, at::Generator& init);
  // x: (batch, inputs), the same for every head -> (heads, batch, outputs).
  at::Tensor forward(const at::Tensor& x);
  // Head `head` alone: (batch, inputs) -> (batch, outputs). With `frozen` the weights are
  // detached, so a loss through it moves only x (the actor's loss through a critic).
  at::Tensor forward_head(int64_t head, const at::Tensor& x, bool frozen = false);
  int64_t heads() const { return heads_; }

  // Head `head` without autograd (call under NoGradGuard), keeping its layers' inputs in `tape`:
  // the same products as forward_head, each layer's bias and ReLU in one pass after its product.
  at::Tensor forward_taped(int64_t head, const at::Tensor& x, MlpTape& tape) const;
  // The backward pass of forward_taped by hand, given d loss / d output (batch, outputs): with
  // `weight_grads` it writes head `head`'s weight and bias gradients into its slice of every
  // parameter's .grad() (make_grads first; the heads' slices are disjoint, so heads may run on
  // separate threads; the hidden layers' bias gradients come out of the ReLU masking pass); with
  // `input_grad` it returns d loss / d x, else an undefined tensor.
  at::Tensor backward_taped(int64_t head, const MlpTape& tape, const at::Tensor& grad_out, bool weight_grads,
                            bool input_grad);
  // Allocates every parameter's .grad() (zeros) where undefined.
  void make_grads();

  std::vector<at::Tensor> weights;  // per layer: (heads, in, out)
  std::vector<at::Tensor> biases;   // per layer: (heads, 1, out)

 private:
  int64_t heads_;
};
TORCH_MODULE(StackedMlp);

// Twin Q(s, a) for continuous actions.
class ContinuousTwinQImpl : public torch::nn::Module {
 public:
  ContinuousTwinQImpl(int64_t obs_size, int64_t action_dim, int64_t hidden, int64_t layers, at::Generator& init);
  // obs (batch, obs...), actions (batch, dim) -> (2, batch).
  at::Tensor forward(const at::Tensor& obs, const at::Tensor& actions);
  // One head: (batch,). `frozen` as in StackedMlp::forward_head.
  at::Tensor forward_head(int64_t head, const at::Tensor& obs, const at::Tensor& actions, bool frozen = false);
  // Weight tensors grouped for a norm constraint: (groups, ...), one norm per group (per head).
  std::vector<at::Tensor> constrained_weights() const { return mlp->weights; }
  StackedMlp mlp{nullptr};
};
TORCH_MODULE(ContinuousTwinQ);

// One Q(s, .) for discrete actions: torso then Linear(num_actions).
class DiscreteQImpl : public torch::nn::Module {
 public:
  DiscreteQImpl(const NetworkConfig& config, const ObservationSpec& obs, int64_t num_actions);
  at::Tensor forward(const at::Tensor& obs);  // (batch, num_actions)
  Torso torso{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(DiscreteQ);

// Twin Q(s, .) for discrete actions.
class DiscreteTwinQImpl : public torch::nn::Module {
 public:
  DiscreteTwinQImpl(const NetworkConfig& config, const ObservationSpec& obs, int64_t num_actions, at::Generator& init);
  at::Tensor forward(const at::Tensor& obs);  // (2, batch, num_actions)
  // One head: (batch, num_actions); `frozen` detaches its weights.
  at::Tensor forward_head(int64_t head, const at::Tensor& obs, bool frozen = false);
  // Every weight tensor (dim >= 2) of both heads, each as one group: (1, ...).
  std::vector<at::Tensor> constrained_weights() const;
  DiscreteQ q1{nullptr}, q2{nullptr};
};
TORCH_MODULE(DiscreteTwinQ);

// V(s): a one-head ReLU MLP on the flattened observation, or (with a NetworkConfig) the torso
// then Linear(1).
class ValueNetworkImpl : public torch::nn::Module {
 public:
  ValueNetworkImpl(const ObservationSpec& obs, int64_t hidden, int64_t layers, at::Generator& init);
  ValueNetworkImpl(const NetworkConfig& config, const ObservationSpec& obs, at::Generator& init);
  at::Tensor forward(const at::Tensor& obs);  // (batch,)

 private:
  StackedMlp mlp_{nullptr};
  Torso torso_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(ValueNetwork);

// h += bias (one per column), then with `relu` h = max(0, h), in one pass (h (rows, cols) float,
// contiguous): a hidden layer's output after its matrix product (NaN stays NaN, as torch's relu).
void add_bias_(const at::Tensor& h, const at::Tensor& bias, bool relu);

// The ReLU's backward in place: g = 0 where x <= 0 (x the ReLU's output; both (rows, cols) float,
// contiguous). With `column_sums` (cols floats) it also writes the sums over rows of the masked g,
// accumulated in double: the bias gradient of the layer whose output's gradient g is.
void relu_backward_(const at::Tensor& g, const at::Tensor& x, float* column_sums);

// Scales each group g of each tensor (groups along dim 0) to Frobenius norm <= max_norm:
// W_g *= min(1, max_norm / ||W_g||). In place, without gradient.
void project_weight_norms(const std::vector<at::Tensor>& grouped_weights, double max_norm);

// Polyak averaging: target = (1 - tau) target + tau source, parameter by parameter.
void polyak_update(torch::nn::Module& target, const torch::nn::Module& source, double tau);
// Copies every parameter and buffer of `source` into `target` (same architecture).
void copy_weights(torch::nn::Module& target, const torch::nn::Module& source);

}  // namespace shardlab
