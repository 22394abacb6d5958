// `shardlab dataset make`: D4RL-quality datasets of our own tasks, from a PPO run of ours
// (../shared/reference/offline.md, "D4RL names datasets by behaviour quality"):
//   random         the random policy
//   medium         the run's checkpoint whose training return is closest to one third of the
//                  expert's normalized score (its return then measured by evaluation)
//   medium-replay  every transition the run collected up to that checkpoint (run.save_experience),
//                  cut at the last episode end before the checkpoint's step
//   expert         the run's final policy
//   medium-expert  dataset.size medium and dataset.size expert transitions (D4RL: 2M)
// Policies act sampled, as D4RL's were collected. The expert run comes from the task's shipped
// PPO spec; it is trained when missing (or resumed when unfinished) with every checkpoint kept and
// every transition saved. The file's metadata records the source run and checkpoint, the policy's
// measured mean return, and the task's reference random and expert returns that normalized scores
// use: 100 (R - R_random) / (R_expert - R_random).
#pragma once

#include <cstdint>
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

// The expert spec shipped for a task (experiments/ppo_*.ini under the source tree).
std::string expert_spec_path(const std::string& task);

}  // namespace shardlab
