// Running statistics for observation normalisation and reward scaling (PPO details 13 and
// CleanRL's NormalizeReward): stored in checkpoints so evaluation sees what training saw. In a
// data-parallel run every rank merges the batch of all ranks, so the statistics stay identical.
#pragma once

#include <cstdint>
#include <vector>

namespace shardlab {

class Collective;

// Mean and variance of a stream of vectors (Chan et al.'s parallel update).
class RunningMeanStd {
 public:
  explicit RunningMeanStd(int64_t size = 1) : mean(size, 0.0), var(size, 1.0) {}
  // `rows` vectors of mean.size() values each, from every rank of `ranks` (one all-reduce of
  // their count, sums and sums of squares when there is more than one rank).
  void update(const float* data, int64_t rows, const Collective& ranks);
  std::vector<double> mean, var;
  double count = 1e-4;

 private:
  void merge(const std::vector<double>& batch_mean, const std::vector<double>& batch_var, double rows);
};

// Divides rewards by the running standard deviation of the discounted return, then clips.
class RewardScaler {
 public:
  RewardScaler(int num_envs, double gamma, double clip) : returns_(num_envs, 0.0), gamma_(gamma), clip_(clip) {}
  // Scales rewards[i] in place; done[i] resets environment i's discounted return after use.
  void scale(float* rewards, const uint8_t* done, int num_envs, const Collective& ranks);
  RunningMeanStd stats{1};

 private:
  std::vector<double> returns_;
  double gamma_, clip_;
};

}  // namespace shardlab
