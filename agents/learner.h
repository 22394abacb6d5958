// The one learner interface, online or offline: the acting policy, the checkpoint parts the
// learner owns, the metric columns it declares, and one update step on a batch from its source.
// What differs between learners is only where batches come from (agents/learner_loop.h): rollouts
// of the vector environment (PPO, REINFORCE: agents/online_learner.h) or minibatches sampled from
// a dataset (BC, IQL, ATAC: offline/learner.h). Learners are registered by name, like environments.
//
// Every learner acts through an ActorCritic (agents/actor_critic.h) saved as the checkpoint part
// "model", so `eval`, `render` and the maze's `analyze` studies load any learner's policy unchanged.
#pragma once

#include <ATen/Device.h>
#include <ATen/core/Generator.h>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/collective.h"
#include "agents/rollout.h"
#include "core/experience.h"

namespace shardlab {

class Checkpoint;
class Spec;
class SpecSchema;

// A minibatch of transitions sampled from a dataset, already on the learner's device.
struct Transitions {
  at::Tensor observations;       // (B, obs...) float32
  at::Tensor actions;            // (B,) int64 (discrete) or (B, dim) float32
  at::Tensor rewards;            // (B,) float32, after relabeling (offline.reward)
  at::Tensor next_observations;  // (B, obs...) float32
  at::Tensor terminals;          // (B,) float32, 1 = the episode ended by the task: no bootstrap.
                                 // Time-limit cuts are 0 here: they bootstrap.
};

// One update's data: a rollout of the vector environment, or a minibatch of transitions.
using Batch = std::variant<Rollout, Transitions>;

// The batch as the kind a learner takes (Error naming the learner when it is the other kind).
const Rollout& rollout_of(const Batch& batch, const std::string& learner);
const Transitions& transitions_of(const Batch& batch, const std::string& learner);

class Learner {
 public:
  virtual ~Learner() = default;
  // The acting policy: checkpoint part "model".
  virtual ActorCritic policy() = 0;
  // The columns update() may return, in metrics.csv order: losses/... and charts/... (a learning
  // rate, a temperature). In a data-parallel run each is written as the ranks' mean.
  virtual std::vector<std::string> metrics() const = 0;
  // Registers every part a resume needs (networks, target copies, optimizers, temperatures); the
  // policy under the name "model".
  virtual void add_parts(Checkpoint& checkpoint) = 0;
  // One update. `step` counts the learner's updates from 1 over the whole run (learning-rate
  // schedules and warm-start phases read it); `gen` is the run's stream for sampling (actions,
  // minibatches), shared with the batch source. Throws NonFiniteLoss when a loss is NaN or infinite
  // (on every rank together: each rank learns on its own batch, all with the ranks' mean gradient).
  virtual std::map<std::string, double> update(const Batch& batch, int64_t step, at::Generator& gen) = 0;
  // Updates 1..N that are a warm start (ATAC's behaviour cloning before ATAC proper), 0 for none:
  // an offline run keeps the policy as it stood after update N and reports how far the final
  // policy moved from it (offline/policy_distance.h).
  virtual int64_t warm_start_steps() const { return 0; }
};

// What a learner is built from: the spec (its own keys and agent.*), the data's specs, the run's
// device, the generator every initial weight is drawn from, and the run's length in updates.
struct LearnerContext {
  const Spec& spec;
  ObservationSpec observation_spec;
  ActionSpec action_spec;
  at::Device device;
  at::Generator& init;
  int64_t total_updates;
  // The (relabeled) rewards' range over a dataset, for ATAC's optional value clipping
  // (atac.clip_values); NaN when the source does not know it.
  double reward_min = std::numeric_limits<double>::quiet_NaN();
  double reward_max = std::numeric_limits<double>::quiet_NaN();
  // A data-parallel run's ranks: every gradient is averaged over them (agents/gradient_step.h).
  Collective ranks = Collective();
};

// What one gradient step holds, for the memory check before a run starts.
struct GradientLoad {
  int64_t samples = 0;  // rows of one gradient step's batch
  int networks = 1;     // networks of the policy's size it runs (critics, targets)
  std::string from;     // the keys that set `samples`, for the message
};

struct LearnerRegistration {
  std::string name;
  std::string description;
  std::function<void(SpecSchema&)> declare_keys;
  // Refuses what the spec gets wrong for this learner (InputError), before any run folder exists,
  // and says what one gradient step holds, given the rows of one batch from the source.
  std::function<GradientLoad(const Spec&, int64_t batch_rows)> check;
  std::function<std::unique_ptr<Learner>(const LearnerContext&)> make;
};

// Declares the spec key `key` choosing among `learners` (the first is the default) and every
// registered learner's own keys.
void declare_learner_keys(SpecSchema& schema, const std::string& key, const std::string& what,
                          const std::vector<LearnerRegistration>& learners);
// The registration the spec's `key` names (InputError when none).
const LearnerRegistration& find_learner(const std::vector<LearnerRegistration>& learners, const Spec& spec,
                                        const std::string& key);

}  // namespace shardlab
