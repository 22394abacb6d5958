// `shardlab offline`: an offline learner (offline/learner.h) run by the one training loop
// (agents/learner_loop.h) on batches sampled from a dataset file, in a run folder like the online
// learners' (agents/training_run.h):
//   spec.ini, run.json, metrics.csv (one row per offline.log_every gradient steps),
//   checkpoints/update_NNNNNNN.pt (part "model" is the policy: `eval`, `render`, `analyze` load it),
//   result.json  the final evaluation (normalized score, return, the task's rates), once finished.
// The policy is evaluated every offline.eval_every steps in the dataset's environment (the env.*
// keys its writer recorded) or in the spec's (offline.env = spec).
#pragma once

#include <cstdint>
#include <string>

#include "agents/training_run.h"

namespace shardlab {

class Spec;
class SpecSchema;

// The offline.* keys of the run (the learners declare theirs and offline.algo).
struct OfflineConfig {
  std::string dataset;          // experience file (D4RL layout)
  std::string reward = "true";  // true | zero | random | negative (relabeled at load time)
  std::string env = "dataset";  // dataset | spec: where the policy is evaluated
  int64_t steps = 100000;       // gradient steps
  int64_t batch_size = 256;     // the references' batch
  int64_t log_every = 1000;     // gradient steps per metrics row
  int64_t eval_every = 10000;   // gradient steps between evaluations (and always at the end)
  int64_t eval_episodes = 10;   // 0: no evaluation
  bool eval_greedy = true;      // act with the mode (tanh(mean)), as the references evaluate

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static OfflineConfig from_spec(const Spec& spec);
};

// Every offline key: the run's and the learners'.
void declare_offline_keys(SpecSchema& schema);

// The thread pools of an offline run of run.threads = `threads`: the pool that does the network's
// heavy products gets them, the other keeps one thread (both at two threads contend and run up to
// 4x slower): OpenBLAS's for an MLP torso (its matrix products), torch's own intra-op pool for the
// IMPALA torso (its convolutions; 1.2x faster on two threads, bench/bench_offline_maze.cpp).
struct OfflineThreads {
  int torch = 1;
  int blas = 1;
};
OfflineThreads offline_threads(const Spec& spec, int64_t threads);

// The spec an offline run records: `spec` with the dataset's env.* keys when offline.env =
// dataset and the file records them (a D4RL file does not: then the run does not evaluate).
Spec resolve_offline_spec(const Spec& spec, bool* can_evaluate);

// Trains and returns the run folder. InputError for bad specs, datasets that do not fit the
// environment; FileError for unreadable datasets; NonFiniteLoss when training diverges.
std::string train_offline(const Spec& spec, const TrainOptions& options);

// Normalized score (D4RL): 100 (R - R_random) / (R_expert - R_random); NaN without references.
double normalized_score(double episode_return, double random_return, double expert_return);

}  // namespace shardlab
