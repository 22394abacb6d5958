// Offline learners: update rules over batches drawn from a fixed dataset (offline/dataset.h),
// registered by name like the environments and the online learners. Adding one means writing
// its update and its keys and one registration in offline/learner.cpp; the run folder,
// checkpoints, metrics, evaluation and the ablation grid (offline/offline_run.cpp) stay untouched.
//
// Every learner acts through an ActorCritic (agents/actor_critic.h) saved as the checkpoint part
// "model", so `eval`, `render` and the maze's `analyze` studies load an offline policy unchanged.
#pragma once

#include <ATen/Device.h>
#include <ATen/core/Generator.h>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/collective.h"
#include "core/experience.h"

namespace shardlab {

class Checkpoint;
class Spec;
class SpecSchema;

// A minibatch of transitions, already on the learner's device.
struct Batch {
  at::Tensor observations;       // (B, obs...) float32
  at::Tensor actions;            // (B,) int64 (discrete) or (B, dim) float32
  at::Tensor rewards;            // (B,) float32, after relabeling (offline.reward)
  at::Tensor next_observations;  // (B, obs...) float32
  at::Tensor terminals;          // (B,) float32, 1 = the episode ended by the task: no bootstrap.
                                 // Time-limit cuts are 0 here: they bootstrap.
};

class OfflineLearner {
 public:
  virtual ~OfflineLearner() = default;
  // The acting policy: checkpoint part "model".
  virtual ActorCritic policy() = 0;
  // The losses/... and charts/... columns update() may return.
  virtual std::vector<std::string> metrics() const = 0;
  // Registers every part a resume needs (networks, target copies, optimizers, temperatures); the
  // policy under the name "model".
  virtual void add_parts(Checkpoint& checkpoint) = 0;
  // One gradient step. `step` counts gradient steps from 1 over the whole run (warm-start phases
  // and learning-rate schedules read it). Throws NonFiniteLoss when a loss is NaN or infinite (on
  // every rank together: each rank steps on its own batch, all with the ranks' mean gradient).
  virtual std::map<std::string, double> update(const Batch& batch, int64_t step, at::Generator& gen) = 0;
};

// What a learner is built from: the spec (its own keys and agent.*), the data's specs, the
// run's device, the generator every initial weight is drawn from, and the run's length in steps.
struct OfflineLearnerContext {
  const Spec& spec;
  ObservationSpec observation_spec;
  ActionSpec action_spec;
  at::Device device;
  at::Generator& init;
  int64_t total_steps;
  // The (relabeled) rewards' range over the dataset, for ATAC's optional value clipping
  // (atac.clip_values); NaN when the caller does not know it.
  double reward_min = std::numeric_limits<double>::quiet_NaN();
  double reward_max = std::numeric_limits<double>::quiet_NaN();
  // A data-parallel run's ranks: every gradient is averaged over them (agents/gradient_step.h).
  Collective ranks = Collective();
};

struct OfflineLearnerRegistration {
  std::string name;
  std::string description;
  std::function<void(SpecSchema&)> declare_keys;
  std::function<std::unique_ptr<OfflineLearner>(const OfflineLearnerContext&)> make;
};

const std::vector<OfflineLearnerRegistration>& offline_learners();
// Declares offline.algo and every registered learner's keys.
void declare_offline_learner_keys(SpecSchema& schema);
// The learner the spec's offline.algo names.
std::unique_ptr<OfflineLearner> make_offline_learner(const OfflineLearnerContext& context);

// Raises glibc malloc's trim threshold and top pad so the large activation buffers each gradient
// step frees stay in the heap for the next step, instead of going back to the OS and being
// page-faulted in again (a quarter of an ATAC step at the reference sizes). Process-wide: call
// it once when an offline run starts. No effect with another allocator.
void keep_freed_memory_for_reuse();

// Debian's libtorch multiplies matrices with OpenBLAS (its pthreads build), whose thread pool
// at::set_num_threads does not size; this does (no effect without OpenBLAS). Process-wide.
void set_blas_threads(int threads);

}  // namespace shardlab
