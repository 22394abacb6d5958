#include "agents/scripted_policy.h"

#include "core/error.h"
#include "envs/box2d/lunar_lander.h"

namespace shardlab {
namespace {

bool is_lander(const std::string& env_name) {
  return env_name == "lunar_lander" || env_name == "lunar_lander_continuous";
}

}  // namespace

ScriptedPolicy::ScriptedPolicy(const std::string& name, const std::string& env_name, const ActionSpec& spec,
                               uint64_t seed)
    : name_(name), spec_(spec), random_(spec, seed) {
  if (name == "random") return;
  if (name == "heuristic") {
    if (is_lander(env_name)) return;
    throw InputError("--policy heuristic: only lunar_lander and lunar_lander_continuous have one, not " + env_name);
  }
  throw InputError("--policy '" + name + "': expected random or heuristic (trained policies: `shardlab eval RUN`)");
}

void ScriptedPolicy::act(const float* observations, int64_t obs_size, int count, int64_t* actions) {
  if (name_ == "random") return random_.act(actions, count);
  for (int i = 0; i < count; ++i) actions[i] = box2d::lander_heuristic_discrete(observations + i * obs_size);
}

void ScriptedPolicy::act(const float* observations, int64_t obs_size, int count, float* actions) {
  if (name_ == "random") return random_.act(actions, count);
  for (int i = 0; i < count; ++i) box2d::lander_heuristic(observations + i * obs_size, actions + i * spec_.dim);
}

}  // namespace shardlab
