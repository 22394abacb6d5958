// Box2D tasks: environment steps per second with uniform random actions, resets included.
// Run: ./shardlab bench --benchmark_filter=Box2D
#include <benchmark/benchmark.h>

#include "agents/random_policy.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

// One environment stepped and reset by hand: the physics and observation alone.
void single_env_steps(benchmark::State& state, const std::string& env_name) {
  const Spec spec = Spec::load(shardlab_schema(), "", {"env.name=" + env_name});
  auto env = make_env(spec, 0);
  const ActionSpec act = env->action_spec();
  RandomPolicy policy(act, 1);
  std::vector<float> continuous(std::max<int64_t>(1, act.dim));
  int64_t episodes = 0;
  for (auto _ : state) {
    Action a;
    if (act.discrete) {
      policy.act(&a.index, 1);
    } else {
      policy.act(continuous.data(), 1);
      a.values = continuous.data();
    }
    if (env->step(a).done()) {
      env->reset();
      ++episodes;
    }
  }
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["episodes"] = static_cast<double>(episodes);
}

// A vector environment of `range(0)` copies, as PPO steps it.
void vector_env_steps(benchmark::State& state, const std::string& env_name) {
  const Spec spec =
      Spec::load(shardlab_schema(), "", {"env.name=" + env_name, "env.num_envs=" + std::to_string(state.range(0))});
  VectorEnv venv = make_vector_env(spec);
  const ActionSpec& act = venv.action_spec();
  RandomPolicy policy(act, 1);
  std::vector<int64_t> discrete(venv.num_envs());
  std::vector<float> continuous(venv.num_envs() * std::max<int64_t>(1, act.dim));
  for (auto _ : state) {
    if (act.discrete) {
      policy.act(discrete.data(), venv.num_envs());
      venv.step(discrete.data());
    } else {
      policy.act(continuous.data(), venv.num_envs());
      venv.step(continuous.data());
    }
    benchmark::DoNotOptimize(venv.observations());
  }
  state.SetItemsProcessed(state.iterations() * venv.num_envs());
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * venv.num_envs()), benchmark::Counter::kIsRate);
}

void BM_Box2DLunarLander(benchmark::State& state) { single_env_steps(state, "lunar_lander"); }
void BM_Box2DLunarLanderContinuous(benchmark::State& state) { single_env_steps(state, "lunar_lander_continuous"); }
void BM_Box2DBipedalWalker(benchmark::State& state) { single_env_steps(state, "bipedal_walker"); }
void BM_Box2DBipedalWalkerHardcore(benchmark::State& state) { single_env_steps(state, "bipedal_walker_hardcore"); }
BENCHMARK(BM_Box2DLunarLander);
BENCHMARK(BM_Box2DLunarLanderContinuous);
BENCHMARK(BM_Box2DBipedalWalker);
BENCHMARK(BM_Box2DBipedalWalkerHardcore);

void BM_Box2DLunarLanderContinuousVector(benchmark::State& state) {
  vector_env_steps(state, "lunar_lander_continuous");
}
void BM_Box2DBipedalWalkerVector(benchmark::State& state) { vector_env_steps(state, "bipedal_walker"); }
BENCHMARK(BM_Box2DLunarLanderContinuousVector)->Arg(16);
BENCHMARK(BM_Box2DBipedalWalkerVector)->Arg(16);

}  // namespace
}  // namespace shardlab
