#include "envs/collection.h"

#include <algorithm>
#include <sstream>

#include "core/episode_assembler.h"
#include "core/experience_file.h"
#include "core/progress.h"
#include "envs/vector_env.h"

namespace shardlab {

void EpisodeTally::add(const EpisodeStats& s) {
  ++episodes;
  return_sum += s.episode_return;
  for (const EpisodeRate& rate : names) {
    const auto it = s.metrics.find(rate.stat);
    if (it != s.metrics.end()) rates[rate.name] += it->second;
  }
}

std::string EpisodeTally::line() const {
  std::ostringstream out;
  out.precision(3);
  out << "episodes " << episodes;
  if (episodes) {
    out << " mean_return " << return_sum / episodes;
    for (const auto& [name, k] : rates) out << ' ' << name << ' ' << k / episodes;
  }
  return out.str();
}

EpisodeTally collect_experience(VectorEnv& venv, const BehaviourPolicy& policy, int64_t steps, ExperienceWriter& writer,
                                bool next_observations, const std::vector<EpisodeRate>& rates,
                                const std::string& label) {
  const int n = venv.num_envs();
  const ObservationSpec& obs_spec = venv.observation_spec();
  const ActionSpec& act_spec = venv.action_spec();
  const int64_t obs_size = obs_spec.size();
  EpisodeAssembler assembler(n, obs_spec, act_spec, venv.info_names(), next_observations);
  const size_t k = venv.info_names().size();
  std::vector<float> obs_before(venv.observations(), venv.observations() + n * obs_size);
  std::vector<int64_t> infos_before(n * k);
  std::vector<int64_t> discrete(act_spec.discrete ? n : 0);
  std::vector<float> continuous(act_spec.discrete ? 0 : n * act_spec.dim);
  EpisodeTally tally;
  tally.names = rates;
  Progress progress(label);
  int64_t recorded = 0;
  while (recorded < steps) {
    std::copy(venv.infos(), venv.infos() + n * k, infos_before.begin());
    policy(venv.observations(), n, discrete.data(), continuous.data());
    if (act_spec.discrete)
      venv.step(discrete.data());
    else
      venv.step(continuous.data());
    for (int i = 0; i < n && recorded < steps; ++i, ++recorded) {
      const float* next = venv.done(i) ? venv.final_observations() + i * obs_size : venv.observations() + i * obs_size;
      assembler.add(i, &obs_before[i * obs_size], act_spec.discrete ? &discrete[i] : nullptr,
                    act_spec.discrete ? nullptr : &continuous[i * act_spec.dim], venv.rewards()[i],
                    venv.terminated()[i], venv.truncated()[i], k ? &infos_before[i * k] : nullptr, next);
    }
    for (const auto& f : venv.finished()) tally.add(f.stats);
    std::copy(venv.observations(), venv.observations() + n * obs_size, obs_before.begin());
    if (assembler.finished().size() >= 4096) writer.append(assembler.take_finished());
    progress.update(recorded, steps, tally.line());
  }
  assembler.cut_unfinished();
  writer.append(assembler.take_finished());
  progress.finish(recorded, steps, tally.line());
  return tally;
}

}  // namespace shardlab
