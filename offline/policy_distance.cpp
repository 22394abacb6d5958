#include "offline/policy_distance.h"

#include <torch/torch.h>

#include "agents/checkpoint.h"
#include "core/error.h"
#include "offline/q_network.h"

namespace shardlab {
namespace {

// KL(N(m1, s1) || N(m2, s2)) summed over the last dimension.
at::Tensor gaussian_kl(const at::Tensor& mean_p, const at::Tensor& log_std_p, const at::Tensor& mean_q,
                       const at::Tensor& log_std_q) {
  const at::Tensor var_ratio = (2 * (log_std_p - log_std_q)).exp();
  const at::Tensor t = (mean_p - mean_q) * (-log_std_q).exp();
  return (0.5 * (var_ratio + t.pow(2) - 1) - (log_std_p - log_std_q)).sum(-1);
}

void require_same_head(const ActorCriticImpl& a, const ActorCriticImpl& b) {
  const ActionSpec &x = a.action_spec(), &y = b.action_spec();
  if (x.discrete != y.discrete || x.num_actions != y.num_actions || x.dim != y.dim ||
      a.tanh_gaussian() != b.tanh_gaussian())
    throw Error("policy_distance: the two policies have different heads or action spaces");
}

at::Tensor parameters_device_of(ActorCriticImpl& net, const at::Tensor& x) {
  const auto params = net.parameters();
  return params.empty() ? x : x.to(params.front().device());
}

}  // namespace

at::Tensor policy_kl(const ActorCriticImpl& net, const at::Tensor& p, const at::Tensor& p_log_std, const at::Tensor& q,
                     const at::Tensor& q_log_std) {
  if (net.action_spec().discrete) {
    const at::Tensor log_p = torch::log_softmax(p, 1), log_q = torch::log_softmax(q, 1);
    return (log_p.exp() * (log_p - log_q)).sum(1);
  }
  if (net.tanh_gaussian()) {
    const int64_t dim = p.size(1) / 2;
    return gaussian_kl(p.narrow(1, 0, dim), p.narrow(1, dim, dim), q.narrow(1, 0, dim), q.narrow(1, dim, dim));
  }
  return gaussian_kl(p, p_log_std.expand_as(p), q, q_log_std.expand_as(q));
}

PolicyDistance policy_distance(ActorCriticImpl& final_policy, ActorCriticImpl& reference,
                               const at::Tensor& observations, int64_t chunk) {
  require_same_head(final_policy, reference);
  const int64_t rows = observations.size(0);
  if (rows == 0) throw Error("policy_distance: no states to compare the policies on");
  torch::NoGradGuard no_grad;
  const bool was_training = final_policy.is_training();
  final_policy.eval();
  double kl = 0, distance = 0;
  for (int64_t start = 0; start < rows; start += chunk) {
    const at::Tensor x =
        parameters_device_of(final_policy, observations.narrow(0, start, std::min(chunk, rows - start)));
    const at::Tensor p = final_policy.forward(x).logits_or_mean;
    const at::Tensor q = reference.forward(x).logits_or_mean;
    kl += policy_kl(final_policy, p, final_policy.log_std, q, reference.log_std).sum().item<double>();
    const at::Tensor a = greedy_action(final_policy, p), b = greedy_action(reference, q);
    distance += final_policy.action_spec().discrete ? (a != b).sum().item<double>()
                                                    : (a - b).pow(2).sum(1).sqrt().sum().item<double>();
  }
  if (was_training) final_policy.train();
  return {kl / static_cast<double>(rows), distance / static_cast<double>(rows)};
}

WarmStartPolicy::WarmStartPolicy(ActorCritic policy, int64_t warm_start_steps)
    : policy_(std::move(policy)), steps_(warm_start_steps) {
  // The architecture of the learner's policy; its weights are overwritten by observe() or restore.
  at::Generator unused = at::detail::createCPUGenerator(0);
  copy_ = ActorCritic(policy_->config(), policy_->observation_spec(), policy_->action_spec(), unused);
  const auto params = policy_->parameters();
  if (!params.empty()) copy_->to(params.front().device());
  copy_->eval();
}

void WarmStartPolicy::add_parts(Checkpoint& checkpoint) {
  // Optional: a checkpoint written before this part existed resumes without it.
  checkpoint.add("warm_start_model", *copy_, true);
  checkpoint.add("warm_start_taken", taken_, true);
}

void WarmStartPolicy::observe(int64_t updates_done) {
  if (taken_ || updates_done != steps_) return;
  copy_weights(*copy_, *policy_);
  taken_ = true;
}

PolicyDistance WarmStartPolicy::distance_of_current(const at::Tensor& observations) {
  if (!taken_) throw Error("the warm-start policy is compared before the warm start ended");
  return policy_distance(*policy_, *copy_, observations);
}

}  // namespace shardlab
