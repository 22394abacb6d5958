// Running statistics for observation normalisation and reward scaling (PPO details 13 and
// CleanRL's NormalizeReward): stored in checkpoints so evaluation sees what training saw. In a
// data-parallel run each rank updates its statistics with its own rows during a rollout, and at
// its end every rank merges all ranks' rows of the rollout (synchronize), so the statistics are
// identical on every rank from one rollout to the next: one all-reduce per rollout, not per step
// (a per-step merge cost 2 ms a step on two local ranks, more than the step).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace shardlab {

class Collective;

// Mean and variance of a stream of vectors (Chan et al.'s parallel update).
class RunningMeanStd {
 public:
  explicit RunningMeanStd(int64_t size = 1) : mean(size, 0.0), var(size, 1.0) {}
  // `rows` vectors of mean.size() values each. With several ranks they are also kept (as count,
  // sums and sums of squares) for the next synchronize().
  void update(const float* data, int64_t rows, const Collective& ranks);
  // Several ranks: the statistics as of the last synchronize() merged with every rank's rows
  // since (one all-reduce). Every rank must call it together; nothing to do with one rank.
  void synchronize(const Collective& ranks);
  std::vector<double> mean, var;
  double count = 1e-4;

 private:
  void merge(const std::vector<double>& batch_mean, const std::vector<double>& batch_var, double rows);
  struct Synced {  // the statistics at the last synchronize() and this rank's rows since
    std::vector<double> mean, var;
    double count = 0;
    std::vector<double> moments;  // rows, sums, sums of squares
  };
  std::optional<Synced> synced_;  // set by the first update() after a synchronize()
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
