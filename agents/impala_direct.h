// The IMPALA torso's convolutional part (each stage's conv, max-pool and two residual blocks, then
// the final ReLU and flatten) run by agents/impala_kernels.h on batch blocks of 16 samples, with
// its backward written out by hand and wrapped as one torch autograd function: the fc layer, the
// heads, the loss and the optimizer stay libtorch's (agent.conv = direct, the default; tested
// against libtorch's path in tests/test_impala_direct.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace shardlab {

// obs: (batch, channels, height, width) float. params: per stage, in order, the weights and biases
// of conv, res1.conv1, res1.conv2, res2.conv1, res2.conv2 (10 tensors a stage; weights (out, in,
// 3, 3) in any memory format). Returns relu(stages(obs)) flattened as libtorch's flatten(1) of an
// NCHW tensor: (batch, channels x height x width). Differentiable in params (not in obs) when grad
// mode is on; runs on at::get_num_threads() threads, with the same numbers for the same count.
at::Tensor impala_direct_features(const at::Tensor& obs, const std::vector<at::Tensor>& params);

}  // namespace shardlab
