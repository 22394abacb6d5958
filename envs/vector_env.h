// N environments stepped as one batch with auto-reset (EnvPool's model): after a step that
// ends an episode, that environment's row already holds the first observation of its next
// episode; the last observation of the finished episode is kept apart.
#pragma once

#include <memory>
#include <vector>

#include "envs/env.h"

namespace shardlab {

// One finished episode and the environment it ran in.
struct FinishedEpisode {
  int env_index = 0;
  EpisodeStats stats;
};

class VectorEnv {
 public:
  explicit VectorEnv(std::vector<std::unique_ptr<Env>> envs);

  int num_envs() const { return static_cast<int>(envs_.size()); }
  const ObservationSpec& observation_spec() const { return observation_spec_; }
  const ActionSpec& action_spec() const { return action_spec_; }
  const std::vector<std::string>& info_names() const { return info_names_; }

  // Starts a new episode in every environment.
  void reset();
  // Steps environment i with actions[i] (discrete) and auto-resets the finished ones.
  void step(const int64_t* actions);
  // Continuous actions: environment i takes actions[i * dim ...].
  void step(const float* actions);

  // (num_envs, obs...) current observations.
  const float* observations() const { return observations_.data(); }
  // Rows where done(i): the observation the episode ended in (before the reset).
  const float* final_observations() const { return final_observations_.data(); }
  const float* rewards() const { return rewards_.data(); }
  const uint8_t* terminated() const { return terminated_.data(); }
  const uint8_t* truncated() const { return truncated_.data(); }
  bool done(int i) const { return terminated_[i] || truncated_[i]; }
  // (num_envs, info_names().size()) integer infos of each environment's current episode.
  const int64_t* infos() const { return infos_.data(); }
  // Episodes that ended in the last step.
  const std::vector<FinishedEpisode>& finished() const { return finished_; }

  Env& env(int i) { return *envs_[i]; }

 private:
  template <typename ActionOf>
  void step_all(ActionOf action_of);

  std::vector<std::unique_ptr<Env>> envs_;
  ObservationSpec observation_spec_;
  ActionSpec action_spec_;
  std::vector<std::string> info_names_;
  int64_t obs_size_ = 0;
  std::vector<float> observations_, final_observations_, rewards_;
  std::vector<uint8_t> terminated_, truncated_;
  std::vector<int64_t> infos_;
  std::vector<FinishedEpisode> finished_;
};

}  // namespace shardlab
