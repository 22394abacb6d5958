// Environments registered by name and built from a spec (OpenSpiel's registry idea, without
// static-initialisation tricks: the list is written out in registry.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "envs/env.h"

namespace shardlab {

class Spec;
class SpecSchema;
class VectorEnv;

// An episode outcome an environment reports as a rate: EpisodeStats::metrics[stat] is 1 or 0.
struct EpisodeRate {
  std::string stat;  // "reached_cheese"
  std::string name;  // "cheese_rate": the key in eval JSON, "charts/cheese_rate" in metrics.csv
};

// A scripted pilot that needs no training (`--policy heuristic`): one action per observation.
struct Heuristic {
  std::function<int64_t(const float* observation)> discrete;
  std::function<void(const float* observation, float* action)> continuous;
};

struct EnvRegistration {
  std::string name;
  std::string description;
  // The environment's own vocabulary: its outcome rates, in the order they are reported, and the
  // spec keys that say which episodes are drawn (recorded with every evaluation).
  std::vector<EpisodeRate> rates;
  std::vector<std::string> summary_keys;
  Heuristic heuristic;  // empty functions: the task has none
  // Declares this environment's spec keys (each key once, shared keys are declared by the registry);
  // empty for variants that share another registration's keys.
  std::function<void(SpecSchema&)> declare_keys;
  // Builds one environment from the resolved spec, its RNG seeded with `seed`.
  std::function<std::unique_ptr<Env>(const Spec&, uint64_t seed)> make;
};

const std::vector<EnvRegistration>& registered_envs();
const EnvRegistration& find_env(const std::string& name);  // throws InputError for an unknown name

// Declares env.name, env.num_envs, env.max_episode_steps and every registered environment's keys.
void declare_env_keys(SpecSchema& schema);

// Environment `index` of the spec's vector environment, seeded from (run.seed, stream, index);
// stream 0 is the default, other streams give independent environments (resumed runs,
// evaluation).
std::unique_ptr<Env> make_env(const Spec& spec, int64_t index, uint64_t stream = 0);
// env.num_envs environments (or `num_envs` if positive), the i-th of them environment first_index + i
// (seeded from (run.seed, stream, first_index + i)): a data-parallel rank makes its own share.
VectorEnv make_vector_env(const Spec& spec, uint64_t stream = 0, int64_t num_envs = 0, int64_t first_index = 0);

}  // namespace shardlab
