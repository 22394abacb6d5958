// Collecting experience: a behaviour policy run in a vector environment, every transition
// written to an experience file with episodes back to back (D4RL's layout). `shardlab collect`
// (scripted policies) and `shardlab dataset make` (trained policies) both collect through it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/experience.h"
#include "envs/registry.h"

namespace shardlab {

class ExperienceWriter;
class VectorEnv;

// Fills one action per observation row: `discrete` (count values) for discrete action specs,
// `continuous` (count x dim) otherwise.
using BehaviourPolicy = std::function<void(const float* observations, int count, int64_t* discrete, float* continuous)>;

// Running episode statistics, for progress lines and summaries.
struct EpisodeTally {
  int64_t episodes = 0;
  double return_sum = 0.0;
  std::vector<EpisodeRate> names;       // the environment's rates
  std::map<std::string, double> rates;  // by rate name: cheese_rate, landed_rate, ...
  void add(const EpisodeStats& s);
  double mean_return() const { return episodes ? return_sum / static_cast<double>(episodes) : 0.0; }
  std::string line() const;
};

// Runs `policy` for `steps` transitions (all environments together), writing them to `writer`
// (which the caller closes). Unfinished episodes at the end are cut as timeouts. Progress on
// stderr under `label`.
EpisodeTally collect_experience(VectorEnv& venv, const BehaviourPolicy& policy, int64_t steps, ExperienceWriter& writer,
                                bool next_observations, const std::vector<EpisodeRate>& rates,
                                const std::string& label);

}  // namespace shardlab
