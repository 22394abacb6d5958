#include "agents/gradient_step.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "agents/collective.h"
#include "core/error.h"

namespace shardlab {
namespace {

std::vector<at::Tensor> parameters_of(torch::optim::Optimizer& optimizer) {
  std::vector<at::Tensor> all;
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) all.push_back(p);
  return all;
}

}  // namespace

void check_finite(const at::Tensor& loss, const std::map<std::string, double>& parts) {
  if (std::isfinite(loss.item<double>())) return;
  std::ostringstream msg;
  msg << "non-finite loss (";
  for (const auto& [name, v] : parts) msg << name << "=" << v << " ";
  msg << ")";
  throw NonFiniteLoss(msg.str());
}

void gradient_step(const at::Tensor& loss, const LossParts& parts, torch::optim::Optimizer& optimizer,
                   const Collective& ranks, double max_grad_norm) {
  optimizer.zero_grad();
  if (std::isfinite(loss.item<double>())) loss.backward();
  finish_gradient_step(loss, parts, optimizer, ranks, max_grad_norm);
}

void finish_gradient_step(const at::Tensor& loss, const LossParts& parts, torch::optim::Optimizer& optimizer,
                          const Collective& ranks, double max_grad_norm) {
  const bool finite = std::isfinite(loss.item<double>());
  const std::vector<at::Tensor> parameters = parameters_of(optimizer);
  if (!ranks.average_gradients(parameters, finite)) {
    check_finite(loss, parts());
    throw NonFiniteLoss("non-finite loss on another rank");
  }
  RECORD_USER_SCOPE("shardlab::optimizer_step");  // a scope for profilers (bench/bench_ppo_profile.cpp)
  if (max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, max_grad_norm);
  optimizer.step();
}

}  // namespace shardlab
