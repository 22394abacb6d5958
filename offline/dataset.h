// An offline dataset in memory: every transition of an experience file (ours or D4RL's) whose
// next observation is known, as tensors, with the reward labels the run asked for, sampled in
// uniform minibatches. Rows cut by a time limit without a stored next observation are left out,
// as in D4RL's q-learning view (core/experience_file.h, ExperienceReader::next_indices).
#pragma once

#include <ATen/Device.h>
#include <ATen/Tensor.h>
#include <ATen/core/Generator.h>

#include <map>
#include <string>
#include <vector>

#include "core/experience.h"
#include "offline/learner.h"
#include "offline/relabel.h"

namespace shardlab {

class OfflineDataset {
 public:
  // Reads `path` whole. FileError (one line naming the file) for an unreadable or empty file, no
  // usable transition, or a non-finite observation, action or reward.
  static OfflineDataset load(const std::string& path, RewardLabel label, uint64_t relabel_seed);
  // The same from rows in memory; `next_index` as ExperienceReader::next_indices gives it (used
  // only without next observations); `name` stands for the file in errors.
  static OfflineDataset from_experience(Experience e, const std::vector<int64_t>& next_index, RewardLabel label,
                                        uint64_t relabel_seed, const std::string& name,
                                        std::map<std::string, std::string> metadata = {});

  const std::string& path() const { return path_; }
  const ObservationSpec& observation_spec() const { return observation_spec_; }
  const ActionSpec& action_spec() const { return action_spec_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  int64_t rows() const { return rows_; }                   // in the file
  int64_t transitions() const { return usable_.numel(); }  // sampled from
  // The relabeled rewards' range over the sampled transitions.
  float reward_min() const { return reward_min_; }
  float reward_max() const { return reward_max_; }

  // `size` transitions drawn uniformly with replacement, on `device`.
  Transitions sample(int64_t size, at::Generator& gen, at::Device device) const;
  // The observations of `size` distinct sampled-from transitions (all of them when fewer), chosen
  // by `seed` alone: a fixed set of dataset states to measure a policy on. On the CPU.
  at::Tensor observation_sample(int64_t size, uint64_t seed) const;

 private:
  std::string path_;
  ObservationSpec observation_spec_;
  ActionSpec action_spec_;
  std::map<std::string, std::string> metadata_;
  int64_t rows_ = 0;
  at::Tensor observations_, next_observations_;  // (rows, obs...); next_ undefined: use next_index_
  at::Tensor actions_, rewards_, terminals_;     // per row
  at::Tensor next_index_;                        // (rows,) int64, row of the next observation
  at::Tensor usable_;                            // rows with a known next observation
  float reward_min_ = 0, reward_max_ = 0;
};

// The seed an offline run relabels its dataset with (offline.reward = random), from its run.seed:
// offline/offline_run.cpp's relabel stream.
uint64_t offline_relabel_seed(uint64_t run_seed);

// The returns of the trajectories an offline run trains on, with rewards relabeled by `label`,
// split as IQL's reference splits a D4RL dataset (ikostrikov/implicit_q_learning, dataset_utils.py,
// over d4rl.qlearning_dataset): over the rows a run samples (OfflineDataset: those with a known
// next observation), a trajectory ends after row i when row i is a terminal or a timeout, when
// the next sampled row is not i + 1 (rows left out between them), when the next row's observation
// is farther than 1e-6 (Euclidean) from row i's next observation, and at the last sampled row
// (an unfinished last episode counts, as in the reference). The reference has no timeout flag in
// its q-learning view; it finds those ends by the observation jump, which a timeout always makes.
// Reads the file in chunks. FileError as OfflineDataset::load.
std::vector<double> trajectory_returns(const std::string& path, RewardLabel label, uint64_t relabel_seed);

}  // namespace shardlab
