#include "envs/vector_env.h"

#include <algorithm>

#include "core/error.h"

namespace shardlab {

VectorEnv::VectorEnv(std::vector<std::unique_ptr<Env>> envs) : envs_(std::move(envs)) {
  if (envs_.empty()) throw InputError("a vector environment needs at least one environment");
  observation_spec_ = envs_[0]->observation_spec();
  action_spec_ = envs_[0]->action_spec();
  info_names_ = envs_[0]->info_names();
  obs_size_ = observation_spec_.size();
  const size_t n = envs_.size();
  observations_.assign(n * obs_size_, 0.0f);
  final_observations_.assign(n * obs_size_, 0.0f);
  rewards_.assign(n, 0.0f);
  terminated_.assign(n, 0);
  truncated_.assign(n, 0);
  infos_.assign(n * info_names_.size(), 0);
  // Environments come ready to step (constructed = reset); take their first observations.
  const size_t k = info_names_.size();
  for (size_t i = 0; i < n; ++i) {
    envs_[i]->write_observation(&observations_[i * obs_size_]);
    if (k) envs_[i]->write_info(&infos_[i * k]);
  }
}

void VectorEnv::reset() {
  finished_.clear();
  const size_t k = info_names_.size();
  for (size_t i = 0; i < envs_.size(); ++i) {
    envs_[i]->reset();
    envs_[i]->write_observation(&observations_[i * obs_size_]);
    if (k) envs_[i]->write_info(&infos_[i * k]);
    rewards_[i] = 0.0f;
    terminated_[i] = truncated_[i] = 0;
  }
}

template <typename ActionOf>
void VectorEnv::step_all(ActionOf action_of) {
  finished_.clear();
  const size_t k = info_names_.size();
  for (size_t i = 0; i < envs_.size(); ++i) {
    Env& env = *envs_[i];
    float* obs = &observations_[i * obs_size_];
    const StepResult r = env.step(action_of(i));
    rewards_[i] = r.reward;
    terminated_[i] = r.terminated;
    truncated_[i] = r.truncated;
    env.update_observation(obs);
    if (r.done()) {
      std::copy(obs, obs + obs_size_, &final_observations_[i * obs_size_]);
      finished_.push_back({static_cast<int>(i), env.episode_stats()});
      env.reset();
      env.write_observation(obs);
      if (k) env.write_info(&infos_[i * k]);
    }
  }
}

void VectorEnv::step(const int64_t* actions) {
  if (!action_spec_.discrete) throw InputError("discrete actions given to an environment with continuous actions");
  step_all([actions](size_t i) {
    Action a;
    a.index = actions[i];
    return a;
  });
}

void VectorEnv::step(const float* actions) {
  if (action_spec_.discrete) throw InputError("continuous actions given to an environment with discrete actions");
  const size_t dim = static_cast<size_t>(action_spec_.dim);
  step_all([actions, dim](size_t i) {
    Action a;
    a.values = actions + i * dim;
    return a;
  });
}

}  // namespace shardlab
