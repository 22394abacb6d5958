// Turns the interleaved steps of a vector environment into whole episodes, back to back, in
// the order they finish: the row order of D4RL experience files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/experience.h"

namespace shardlab {

class EpisodeAssembler {
 public:
  EpisodeAssembler(int num_envs, const ObservationSpec& obs, const ActionSpec& act,
                   const std::vector<std::string>& info_names, bool with_next_observations);

  // Adds one transition of environment `env`. `next_obs` may be null unless next observations
  // are kept. When `terminal` or `timeout` is set the episode moves to the finished batch.
  void add(int env, const float* obs, const int64_t* discrete_action, const float* continuous_action, float reward,
           bool terminal, bool timeout, const int64_t* infos, const float* next_obs);

  // Episodes finished so far, in finishing order; take them with take_finished().
  const Experience& finished() const { return finished_; }
  Experience take_finished();

  // Moves every unfinished episode to the finished batch, its last row marked as a timeout
  // (it was cut by the end of collection, not by the task). Environments in index order.
  void cut_unfinished();

  // Transitions added and not yet taken.
  size_t pending_rows() const;

 private:
  Experience empty_like() const;
  std::vector<Experience> open_;  // one growing episode per environment
  Experience finished_;
  std::vector<std::string> info_names_;
  bool with_next_;
};

}  // namespace shardlab
