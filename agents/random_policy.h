// The uniform random policy: the baseline of every environment and the behaviour policy of
// "random" datasets. Its own RNG, seeded explicitly.
#pragma once

#include <cstdint>

#include "core/experience.h"
#include "core/rng.h"

namespace shardlab {

class RandomPolicy {
 public:
  RandomPolicy(const ActionSpec& spec, uint64_t seed) : spec_(spec), rng_(seed) {}

  // Fills `count` discrete actions.
  void act(int64_t* actions, int count) {
    for (int i = 0; i < count; ++i) actions[i] = rng_.uniform_int(static_cast<uint32_t>(spec_.num_actions));
  }
  // Fills `count` continuous actions of spec.dim values each, uniform in [low, high].
  void act(float* actions, int count) {
    for (int64_t i = 0; i < count * spec_.dim; ++i)
      actions[i] = spec_.low + static_cast<float>(rng_.uniform01()) * (spec_.high - spec_.low);
  }

 private:
  ActionSpec spec_;
  Rng rng_;
};

}  // namespace shardlab
