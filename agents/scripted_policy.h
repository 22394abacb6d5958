// Policies that need no training, by name: `random` (any environment) and `heuristic` (the
// environment's scripted pilot, where its registration has one: the lunar landers' PD pilot). Used by `collect`, `eval
// --policy` and `render`.
#pragma once

#include <cstdint>
#include <string>

#include "agents/random_policy.h"
#include "core/experience.h"
#include "envs/collection.h"
#include "envs/registry.h"

namespace shardlab {

class ScriptedPolicy {
 public:
  // Throws InputError for an unknown name or a policy the environment does not have.
  ScriptedPolicy(const std::string& name, const EnvRegistration& env, const ActionSpec& spec, uint64_t seed);

  const std::string& name() const { return name_; }
  // `count` actions for `count` observations of `obs_size` floats each.
  void act(const float* observations, int64_t obs_size, int count, int64_t* actions);
  void act(const float* observations, int64_t obs_size, int count, float* actions);
  // The same as a behaviour policy (envs/collection.h) for observations of `obs_size` floats;
  // this policy must outlive it.
  BehaviourPolicy behaviour(int64_t obs_size);

 private:
  std::string name_;
  ActionSpec spec_;
  RandomPolicy random_;
  Heuristic heuristic_;
};

}  // namespace shardlab
