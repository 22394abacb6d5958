// How far an offline learner's actor moved from its warm start (issue 31: "a scale where the actor
// moves"). A learner with a warm start (ATAC's behaviour-cloning phase, Learner::warm_start_steps)
// has its policy copied when the warm start ends; the copy is a checkpoint part, so a run resumed
// after a kill still has it. At every evaluation and at the end, the final and the warm-start
// policies are compared on a fixed, seeded sample of dataset states:
//   KL(pi_final || pi_warm)  exact per state: categorical for discrete actions; for the Gaussian
//                            heads the KL of the Gaussians, which for tanh_gaussian is the KL of
//                            the pre-tanh Gaussians and equal to that of the squashed policies
//                            (tanh is a bijection, and KL is invariant under one);
//   action distance          between the two greedy actions: the L2 distance for continuous
//                            actions, the rate of disagreement for discrete ones.
// Runs without a warm start report neither (a distance from the initial policy says nothing about
// imitation).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>

#include "agents/actor_critic.h"

namespace shardlab {

class Checkpoint;

struct PolicyDistance {
  double kl = 0;               // mean over states of KL(pi_final(.|s) || pi_reference(.|s))
  double action_distance = 0;  // mean over states of the greedy actions' distance
};

// Both policies' means over `observations` (rows, obs...), in chunks of `chunk` rows, without
// gradients. The two networks must have the same head and action space (Error otherwise).
PolicyDistance policy_distance(ActorCriticImpl& final_policy, ActorCriticImpl& reference,
                               const at::Tensor& observations, int64_t chunk = 1024);

// Per-state KL(p || q) of two policy outputs of `net`'s head (logits, means, or tanh_gaussian's
// means and log-stds); `p_log_std` and `q_log_std` are the gaussian head's state-independent
// log-stds (undefined for the other heads). (rows,)
at::Tensor policy_kl(const ActorCriticImpl& net, const at::Tensor& p, const at::Tensor& p_log_std, const at::Tensor& q,
                     const at::Tensor& q_log_std);

// The learner's policy as it stood after update `warm_start_steps`: checkpoint parts
// "warm_start_model" (the copy) and "warm_start_taken".
class WarmStartPolicy {
 public:
  // `policy` is the learner's acting policy (the copy gets its architecture).
  WarmStartPolicy(ActorCritic policy, int64_t warm_start_steps);
  int64_t warm_start_steps() const { return steps_; }
  void add_parts(Checkpoint& checkpoint);
  // Called with the learner's updates so far, before each update and after each row: copies the
  // policy once they reach the warm start's length.
  void observe(int64_t updates_done);
  bool taken() const { return taken_; }
  // The distance of the learner's current policy from the copy (Error before it is taken).
  PolicyDistance distance_of_current(const at::Tensor& observations);

 private:
  ActorCritic policy_;
  ActorCritic copy_{nullptr};
  int64_t steps_;
  bool taken_ = false;
};

}  // namespace shardlab
