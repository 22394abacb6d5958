// `shardlab dataset make`: D4RL-quality datasets of our own tasks, from a PPO run of ours
// (../shared/reference/offline.md, "D4RL names datasets by behaviour quality"):
//   random         the random policy
//   medium         the run's checkpoint whose measured normalized score (sampled, as it collects,
//                  dataset.reference_episodes seeded episodes) is closest to 33.3, searched from
//                  the checkpoint the training curve (metrics.csv, which lags the policy) puts
//                  there (walk_to_medium); the candidates' scores are recorded
//   medium-replay  every transition the run collected up to that checkpoint (run.save_experience),
//                  cut at the last episode end before the checkpoint's step
//   expert         the run's final policy
//   medium-expert  dataset.size medium and dataset.size expert transitions (D4RL: 2M)
// Policies act sampled, as D4RL's were collected. The expert run comes from the task's shipped
// PPO spec; it is trained when missing (or resumed when unfinished) with every checkpoint kept and
// every transition saved. The file's metadata records the source run and checkpoint, the policy's
// mean return as it collected (sampled), and the task's reference random and expert returns that
// normalized scores use: 100 (R - R_random) / (R_expert - R_random). The expert reference acts as
// the offline learners are evaluated on the task (offline.eval_greedy: greedy on the vector tasks,
// sampled on the maze), recorded as reference_expert_action beside both modes' returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shardlab {

class Spec;
class SpecSchema;

// The dataset.* keys: how datasets are made.
struct DatasetConfig {
  std::string runs = "runs/experts";  // where expert runs live
  int64_t size = 1000000;             // transitions (medium-expert: this many of each policy)
  int64_t expert_total_steps = 0;     // 0: the expert spec's train.total_steps; else a shorter run
  int64_t reference_episodes = 50;    // episodes that measure random, expert and medium returns
  int64_t medium_candidates = 6;      // checkpoints evaluated at most to choose medium

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static DatasetConfig from_spec(const Spec& spec);
};

// The tasks with a shipped expert spec: bipedal_walker, lunar_lander_continuous, maze.
const std::vector<std::string>& dataset_tasks();
const std::vector<std::string>& dataset_qualities();
// InputError "`where` Q: expected random, medium, ..." unless `quality` is one of them.
void check_dataset_quality(const std::string& quality, const std::string& where);

struct DatasetRequest {
  std::string task;     // one of dataset_tasks()
  std::string quality;  // one of dataset_qualities()
  std::string out;      // file to write
  uint64_t seed = 0;    // collection seed
  bool force = false;
};

// Makes the dataset (training or resuming the expert run first if needed) and returns a one-line
// summary. InputError for an unknown task or quality or an existing `out` without force.
std::string make_dataset(const DatasetRequest& request, const DatasetConfig& config, const SpecSchema& schema);

// One checkpoint measured while choosing medium.
struct MediumCandidate {
  std::string checkpoint;
  double mean_return = 0;
  double score = 0;  // normalized
};

// Medium by evaluation: measures checkpoints[start] (the training curve's pick), then walks one
// checkpoint at a time toward `target` (earlier while the measured score is above it, later while
// below) until the score reaches or crosses it, the run's first or last checkpoint is passed, or
// `most` checkpoints are measured. Returns them in measured order; medium is the closest.
std::vector<MediumCandidate> walk_to_medium(const std::vector<std::string>& checkpoints, size_t start, double target,
                                            int64_t most,
                                            const std::function<MediumCandidate(const std::string&)>& measure);

// The expert spec shipped for a task (experiments/ppo_*.ini under the source tree).
std::string expert_spec_path(const std::string& task);

}  // namespace shardlab
