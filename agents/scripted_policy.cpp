#include "agents/scripted_policy.h"

#include "core/error.h"

namespace shardlab {

ScriptedPolicy::ScriptedPolicy(const std::string& name, const EnvRegistration& env, const ActionSpec& spec,
                               uint64_t seed)
    : name_(name), spec_(spec), random_(spec, seed), heuristic_(env.heuristic) {
  if (name == "random") return;
  if (name == "heuristic") {
    if (spec.discrete ? bool(heuristic_.discrete) : bool(heuristic_.continuous)) return;
    std::string with;
    for (const auto& r : registered_envs())
      if (r.heuristic.discrete || r.heuristic.continuous) with += (with.empty() ? "" : ", ") + r.name;
    throw InputError("--policy heuristic: " + env.name + " has none (these do: " + with + ")");
  }
  throw InputError("--policy '" + name + "': expected random or heuristic (trained policies: `shardlab eval RUN`)");
}

void ScriptedPolicy::act(const float* observations, int64_t obs_size, int count, int64_t* actions) {
  if (name_ == "random") return random_.act(actions, count);
  for (int i = 0; i < count; ++i) actions[i] = heuristic_.discrete(observations + i * obs_size);
}

void ScriptedPolicy::act(const float* observations, int64_t obs_size, int count, float* actions) {
  if (name_ == "random") return random_.act(actions, count);
  for (int i = 0; i < count; ++i) heuristic_.continuous(observations + i * obs_size, actions + i * spec_.dim);
}

BehaviourPolicy ScriptedPolicy::behaviour(int64_t obs_size) {
  return [this, obs_size](const float* obs, int count, int64_t* discrete, float* continuous) {
    if (spec_.discrete)
      act(obs, obs_size, count, discrete);
    else
      act(obs, obs_size, count, continuous);
  };
}

}  // namespace shardlab
