#include "envs/registry.h"

#include "core/error.h"
#include "core/memory.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/box2d/bipedal_walker.h"
#include "envs/box2d/lunar_lander.h"
#include "envs/maze/maze_env.h"
#include "envs/vector_env.h"

namespace shardlab {

const std::vector<EnvRegistration>& registered_envs() {
  const std::vector<EpisodeRate> lander_rates = {{"lander/landed", "landed_rate"},
                                                 {"lander/crashed", "crashed_rate"},
                                                 {"lander/out_of_bounds", "out_of_bounds_rate"},
                                                 {"lander/timeout", "timeout_rate"}};
  const std::vector<EpisodeRate> walker_rates = {{"walker/finished", "finished_rate"},
                                                 {"walker/fell", "fell_rate"},
                                                 {"walker/out_of_bounds", "out_of_bounds_rate"},
                                                 {"walker/timeout", "timeout_rate"}};
  const Heuristic lander_pilot = {[](const float* o) -> int64_t { return box2d::lander_heuristic_discrete(o); },
                                  box2d::lander_heuristic};
  static const std::vector<EnvRegistration> envs = {
      {"maze",
       "Procgen maze (mouse, cheese), goal-misgeneralization placements",
       {{"reached_cheese", "cheese_rate"}, {"reached_corner", "corner_rate"}},
       {"env.placement", "env.max_episode_steps"},
       {},
       maze::declare_maze_keys,
       [](const Spec& spec, uint64_t seed) -> std::unique_ptr<Env> {
         return std::make_unique<maze::MazeEnv>(maze::MazeConfig::from_spec(spec), seed);
       }},
      {"lunar_lander",
       "Gymnasium LunarLander-v3: land on the pad, 4 discrete actions",
       lander_rates,
       {"env.enable_wind"},
       lander_pilot,
       box2d::declare_lander_keys,
       [](const Spec& spec, uint64_t seed) -> std::unique_ptr<Env> {
         return std::make_unique<box2d::LunarLanderEnv>(box2d::LanderConfig::from_spec(spec, false), seed);
       }},
      {"lunar_lander_continuous",
       "Gymnasium LunarLander-v3, continuous: main and lateral throttle in [-1, 1]",
       lander_rates,
       {"env.enable_wind"},
       lander_pilot,
       nullptr,  // the same keys as lunar_lander
       [](const Spec& spec, uint64_t seed) -> std::unique_ptr<Env> {
         return std::make_unique<box2d::LunarLanderEnv>(box2d::LanderConfig::from_spec(spec, true), seed);
       }},
      {"bipedal_walker",
       "Gymnasium BipedalWalker-v3: walk to the end of grassy terrain, 4 torques in [-1, 1]",
       walker_rates,
       {},
       {},
       nullptr,  // no keys of its own
       [](const Spec& spec, uint64_t seed) -> std::unique_ptr<Env> {
         return std::make_unique<box2d::BipedalWalkerEnv>(box2d::WalkerConfig::from_spec(spec, false), seed);
       }},
      {"bipedal_walker_hardcore",
       "Gymnasium BipedalWalkerHardcore-v3: stumps, pits and stairs",
       walker_rates,
       {},
       {},
       nullptr,
       [](const Spec& spec, uint64_t seed) -> std::unique_ptr<Env> {
         return std::make_unique<box2d::BipedalWalkerEnv>(box2d::WalkerConfig::from_spec(spec, true), seed);
       }},
  };
  return envs;
}

const EnvRegistration& find_env(const std::string& name) {
  std::string names;
  for (const auto& r : registered_envs()) {
    if (r.name == name) return r;
    names += (names.empty() ? "" : ", ") + r.name;
  }
  throw InputError("environment '" + name + "': expected one of " + names);
}

void declare_env_keys(SpecSchema& schema) {
  auto& name = schema.add("env.name", KeyType::kString, "maze", "environment, by its registered name");
  for (const auto& r : registered_envs()) name.choices.push_back(r.name);
  schema.add("env.num_envs", KeyType::kInt, "64", "environments stepped together as one batch").check =
      [](const std::string& v) {
        if (std::stoll(v) < 1) throw InputError("expected at least 1");
      };
  schema
      .add("env.max_episode_steps", KeyType::kInt, "0",
           "time limit in steps (a truncation, not a termination); 0 = the task's own: maze 500, lunar_lander 1000, "
           "bipedal_walker 1600, bipedal_walker_hardcore 2000")
      .check = [](const std::string& v) {
    if (std::stoll(v) < 0) throw InputError("expected 0 (the task's own limit) or a positive number of steps");
  };
  for (const auto& r : registered_envs())
    if (r.declare_keys) r.declare_keys(schema);
}

std::unique_ptr<Env> make_env(const Spec& spec, int64_t index, uint64_t stream) {
  uint64_t base = static_cast<uint64_t>(spec.get_int("run.seed"));
  if (stream != 0) base = mix_seed(base, stream);
  const uint64_t seed = mix_seed(base, static_cast<uint64_t>(index));
  return find_env(spec.get_string("env.name")).make(spec, seed);
}

VectorEnv make_vector_env(const Spec& spec, uint64_t stream, int64_t num_envs, int64_t first_index) {
  std::vector<std::unique_ptr<Env>> envs;
  const int64_t n = num_envs > 0 ? num_envs : spec.get_int("env.num_envs");
  // A generous 64 KiB per environment (Box2D worlds), checked before the first is made.
  require_memory(static_cast<double>(n) * 65536.0, "env.num_envs = " + std::to_string(n) + " environments",
                 "lower env.num_envs");
  for (int64_t i = 0; i < n; ++i) envs.push_back(make_env(spec, first_index + i, stream));
  return VectorEnv(std::move(envs));
}

}  // namespace shardlab
