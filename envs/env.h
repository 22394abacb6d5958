// The one small environment interface every task implements (OpenSpiel's Game/State idea,
// cut down to what RL training needs), and the per-step types the vector environment uses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/experience.h"

namespace shardlab {

// An action: `index` for discrete action spaces, `values` (action_spec().dim floats) otherwise.
struct Action {
  int64_t index = 0;
  const float* values = nullptr;
};

struct StepResult {
  float reward = 0.0f;
  bool terminated = false;  // the task ended (no bootstrapping past it)
  bool truncated = false;   // cut by the time limit
  bool done() const { return terminated || truncated; }
};

// A constructed environment is ready to step, as if reset() had just been called.
// A picture of an environment's state (envs draw themselves: Env::draw).
struct Frame {
  int width = 0, height = 0;
  std::vector<float> chw;  // (3, height, width) in [0, 1], row 0 at the top
};

class Env {
 public:
  virtual ~Env() = default;

  virtual std::string name() const = 0;
  virtual ObservationSpec observation_spec() const = 0;
  virtual ActionSpec action_spec() const = 0;

  // Reseeds the environment's own random number generator (it draws levels, noise, ...).
  virtual void seed(uint64_t seed) = 0;
  // Starts a new episode.
  virtual void reset() = 0;
  virtual StepResult step(const Action& action) = 0;

  // Writes the current observation (observation_spec().size() floats).
  virtual void write_observation(float* out) const = 0;
  // Like write_observation, for a buffer that already holds this environment's observation from
  // before its last step: an environment may rewrite only what changed.
  virtual void update_observation(float* out) const { write_observation(out); }

  // Statistics of the current episode so far (of the episode that just ended, right after a
  // step that returned done()).
  virtual EpisodeStats episode_stats() const = 0;

  // Integer facts about the current episode stored with each transition (infos/ in HDF5).
  virtual std::vector<std::string> info_names() const { return {}; }
  virtual void write_info(int64_t* out) const {}

  // A human-readable picture of the state.
  virtual std::string to_string() const = 0;
  // The current state drawn at a size a person can read, for `shardlab render` and training
  // videos (the Box2D tasks their 600 x 400 scene, the maze at least 360 pixels a side), mouse,
  // cheese, lander and walker included. Every environment draws (tests/test_env_conformance.cpp).
  virtual Frame draw() const = 0;
  virtual std::unique_ptr<Env> clone() const = 0;
};

}  // namespace shardlab
