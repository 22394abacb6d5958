#include "core/episode_assembler.h"

namespace shardlab {

EpisodeAssembler::EpisodeAssembler(int num_envs, const ObservationSpec& obs, const ActionSpec& act,
                                   const std::vector<std::string>& info_names, bool with_next_observations)
    : info_names_(info_names), with_next_(with_next_observations) {
  finished_.observation_spec = obs;
  finished_.action_spec = act;
  for (const auto& name : info_names_) finished_.infos[name];
  open_.assign(num_envs, empty_like());
}

Experience EpisodeAssembler::empty_like() const {
  Experience e;
  e.observation_spec = finished_.observation_spec;
  e.action_spec = finished_.action_spec;
  for (const auto& name : info_names_) e.infos[name];
  return e;
}

void EpisodeAssembler::add(int env, const float* obs, const int64_t* discrete_action, const float* continuous_action,
                           float reward, bool terminal, bool timeout, const int64_t* infos, const float* next_obs) {
  Experience& e = open_[env];
  const int64_t n = e.obs_size();
  e.observations.insert(e.observations.end(), obs, obs + n);
  if (with_next_) e.next_observations.insert(e.next_observations.end(), next_obs, next_obs + n);
  if (e.action_spec.discrete)
    e.discrete_actions.push_back(*discrete_action);
  else
    e.continuous_actions.insert(e.continuous_actions.end(), continuous_action, continuous_action + e.action_spec.dim);
  e.rewards.push_back(reward);
  e.terminals.push_back(terminal);
  e.timeouts.push_back(timeout);
  for (size_t k = 0; k < info_names_.size(); ++k) e.infos[info_names_[k]].push_back(infos[k]);
  if (terminal || timeout) {
    finished_.append(e, 0, e.size());
    e.clear();
  }
}

Experience EpisodeAssembler::take_finished() {
  Experience out = empty_like();
  std::swap(out, finished_);
  return out;
}

void EpisodeAssembler::cut_unfinished() {
  for (auto& e : open_) {
    if (e.size() == 0) continue;
    e.timeouts.back() = 1;
    finished_.append(e, 0, e.size());
    e.clear();
  }
}

size_t EpisodeAssembler::pending_rows() const {
  size_t n = finished_.size();
  for (const auto& e : open_) n += e.size();
  return n;
}

}  // namespace shardlab
