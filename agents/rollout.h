// Fixed-length rollouts (num_steps x num_envs) of a policy in a vector environment: what PPO
// and REINFORCE learn from. Time-limit truncations keep V(final observation) for bootstrapping;
// terminations do not bootstrap. Optionally every transition also goes to the shared
// experience format (experience.h5).
#pragma once

#include <ATen/ATen.h>

#include <deque>
#include <memory>

#include "agents/actor_critic.h"
#include "agents/collective.h"
#include "agents/normalization.h"
#include "agents/train_config.h"
#include "core/episode_assembler.h"
#include "core/experience_file.h"
#include "envs/vector_env.h"

namespace shardlab {

struct Rollout {
  at::Tensor obs;           // (T, N, obs...) as the network saw them (normalised if enabled)
  at::Tensor actions;       // (T, N) int64 or (T, N, dim) unclipped
  at::Tensor log_probs;     // (T, N)
  at::Tensor values;        // (T, N)
  at::Tensor rewards;       // (T, N) scaled if reward normalisation is on
  at::Tensor terminated;    // (T, N) 1 where the step ended the episode by the task
  at::Tensor truncated;     // (T, N) 1 where the time limit cut the episode
  at::Tensor final_values;  // (T, N) V(final observation) where truncated, else 0
  at::Tensor next_value;    // (N,) V(observation after the last step)
};

// Recent episodes, for the progress line and metrics.
struct EpisodeWindow {
  std::deque<EpisodeStats> recent;  // last `size` episodes
  size_t size = 100;
  std::vector<EpisodeStats> this_update;
  void add(const EpisodeStats& s);
  // Mean of a field over `episodes`: "return", "length" or a metric name; NaN when empty.
  static double mean(const std::vector<EpisodeStats>& episodes, const std::string& field);
  std::vector<EpisodeStats> recent_list() const { return {recent.begin(), recent.end()}; }
};

class RolloutCollector {
 public:
  // `ranks`: in a data-parallel run, the normalisers merge every rank's batch at each step.
  RolloutCollector(VectorEnv venv, const TrainConfig& config, at::Device device, Collective ranks);

  Rollout collect(ActorCriticImpl& net, at::Generator& gen, int64_t num_steps);

  // Observations as the network sees them (normalised and clipped when enabled).
  at::Tensor prepare(const float* obs, int64_t rows, bool update_stats);

  // Also write every transition to this file (closed by finish_experience).
  void save_experience_to(std::unique_ptr<ExperienceWriter> writer);
  void finish_experience();

  VectorEnv& venv() { return venv_; }
  // Collects from other environments from now on (a curriculum's next phase), with the same
  // shapes; the normalisers and the episode window carry over.
  void replace_venv(VectorEnv venv) { venv_ = std::move(venv); }
  EpisodeWindow& episodes() { return episodes_; }
  RunningMeanStd& observation_stats() { return obs_stats_; }
  RewardScaler& reward_scaler() { return reward_scaler_; }

 private:
  VectorEnv venv_;
  TrainConfig config_;
  at::Device device_;
  Collective ranks_;
  RunningMeanStd obs_stats_;
  RewardScaler reward_scaler_;
  EpisodeWindow episodes_;
  std::unique_ptr<ExperienceWriter> writer_;
  std::unique_ptr<EpisodeAssembler> assembler_;
};

}  // namespace shardlab
