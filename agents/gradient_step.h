// The gradient step every learner takes, online or offline: backward, the gradient averaged over
// the ranks of a data-parallel run (agents/collective.h; nothing to average with one rank), an
// optional global-norm clip, the optimizer's step. A non-finite loss on any rank stops every rank
// together with NonFiniteLoss, before any parameter changes.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>

namespace torch::optim {
class Optimizer;
}

namespace shardlab {

class Collective;

// The loss terms named in a NonFiniteLoss message; evaluated only when one is thrown.
using LossParts = std::function<std::map<std::string, double>()>;

// Throws NonFiniteLoss naming the loss terms when `loss` is NaN or infinite.
void check_finite(const at::Tensor& loss, const std::map<std::string, double>& parts);

// zero_grad, backward of `loss`, then finish_gradient_step.
void gradient_step(const at::Tensor& loss, const LossParts& parts, torch::optim::Optimizer& optimizer,
                   const Collective& ranks, double max_grad_norm = 0);

// For a learner that ran its own backward passes (after zero_grad): the ranks' average of the
// optimizer's parameters' gradients, the clip when max_grad_norm > 0, and the step.
void finish_gradient_step(const at::Tensor& loss, const LossParts& parts, torch::optim::Optimizer& optimizer,
                          const Collective& ranks, double max_grad_norm = 0);

}  // namespace shardlab
