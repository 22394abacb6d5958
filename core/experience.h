// The one experience format: a batch of transitions, shared by environments, agents and
// offline learning. Rows are in time order with episodes back to back (D4RL's layout), so a
// batch maps one to one onto an HDF5 experience file (core/experience_file.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

// What an action is: an index into `num_actions` choices, or a vector of `dim` floats in
// [low, high].
struct ActionSpec {
  bool discrete = true;
  int64_t num_actions = 0;  // discrete only
  int64_t dim = 0;          // continuous only
  float low = -1.0f;        // continuous only
  float high = 1.0f;        // continuous only
};

// The shape and bounds of one observation.
struct ObservationSpec {
  std::vector<int64_t> shape;
  float low = 0.0f;
  float high = 1.0f;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// A batch of transitions (s, a, r, terminal, timeout[, s']). Row i's columns are
// observations[i * obs_size ...], actions, rewards[i], ... `terminals` marks a true end of the
// episode (no bootstrapping), `timeouts` an episode cut by a time limit (or by the end of a
// collection run). An episode ends at every row where either is set.
struct Experience {
  ObservationSpec observation_spec;
  ActionSpec action_spec;

  std::vector<float> observations;       // size() * obs_size
  std::vector<float> next_observations;  // empty, or size() * obs_size
  std::vector<int64_t> discrete_actions;  // size(), when action_spec.discrete
  std::vector<float> continuous_actions;  // size() * dim, otherwise
  std::vector<float> rewards;
  std::vector<uint8_t> terminals;
  std::vector<uint8_t> timeouts;
  // Per-row integer side information (D4RL's infos/ group), e.g. the maze's level seed.
  std::map<std::string, std::vector<int64_t>> infos;

  size_t size() const { return rewards.size(); }
  bool has_next_observations() const { return !next_observations.empty(); }
  int64_t obs_size() const { return observation_spec.size(); }
  void clear();
  // Appends rows [begin, end) of `other` (same specs and columns).
  void append(const Experience& other, size_t begin, size_t end);
  // Throws Error if the columns' lengths disagree with size().
  void check_consistent() const;
};

// Per-episode summary: the return, the length, and task metrics (for the maze:
// `reached_cheese` and `reached_corner`).
struct EpisodeStats {
  double episode_return = 0.0;
  int64_t length = 0;
  bool terminated = false;  // false: cut by the time limit
  std::map<std::string, double> metrics;
};

}  // namespace shardlab
