// Observations per second of the maze's three observation kinds: grid, rgb (flat colours) and
// procgen_rgb (Procgen's frame, drawn with Qt), one environment writing its whole observation, and a
// vector environment stepping with random actions.
// Run from the repository root: ./shardlab bench --benchmark_filter=BM_Observation
// procgen_rgb reads Procgen's assets from $SHARDLAB_PROCGEN_ASSETS, else ../shared/testdata/procgen_assets
// (Kenney's packs, CC0; food icons by thekingphoenix, CC0; "Top-Down Backgrounds" by davis123, CC-BY 3.0).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "agents/random_policy.h"
#include "core/error.h"
#include "envs/maze/maze_env.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

std::string procgen_assets() {
  const char* env = std::getenv("SHARDLAB_PROCGEN_ASSETS");
  return env ? env : "../shared/testdata/procgen_assets";
}

std::vector<std::string> observation_keys(const std::string& observation) {
  std::vector<std::string> keys = {"env.observation=" + observation};
  if (observation == "procgen_rgb") keys.push_back("env.procgen_assets=" + procgen_assets());
  return keys;
}

// Full observations per second of one hard-maze environment: a new level every 16 frames, the
// mouse moved along between them.
void write_observations(benchmark::State& state, const std::string& observation) {
  try {
    const Spec spec = Spec::load(shardlab_schema(), "", observation_keys(observation));
    maze::MazeEnv env(maze::MazeConfig::from_spec(spec), 1);
    const auto shape = env.observation_spec().shape;
    std::vector<float> obs(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
    uint32_t level = 0;
    int64_t frame = 0;
    for (auto _ : state) {
      if (frame++ % 16 == 0) env.reset_to_level(level++);
      env.step(Action{frame % 2 ? 7 : 5});
      env.write_observation(obs.data());
      benchmark::DoNotOptimize(obs.data());
    }
    state.counters["frames_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

void BM_ObservationGrid(benchmark::State& state) { write_observations(state, "grid"); }
void BM_ObservationRgb(benchmark::State& state) { write_observations(state, "rgb"); }
void BM_ObservationProcgenRgb(benchmark::State& state) { write_observations(state, "procgen_rgb"); }
BENCHMARK(BM_ObservationGrid);
BENCHMARK(BM_ObservationRgb);
BENCHMARK(BM_ObservationProcgenRgb);

// Steps per second of a vector environment of 64 hard mazes (random actions, auto-reset), each
// step writing the new observations (update_observation: procgen_rgb redraws the whole frame).
void procgen_vector_steps(benchmark::State& state, const std::string& observation) {
  try {
    std::vector<std::string> keys = observation_keys(observation);
    keys.push_back("env.num_envs=64");
    const Spec spec = Spec::load(shardlab_schema(), "", keys);
    VectorEnv venv = make_vector_env(spec);
    RandomPolicy policy(venv.action_spec(), 1);
    std::vector<int64_t> actions(venv.num_envs());
    for (auto _ : state) {
      policy.act(actions.data(), venv.num_envs());
      venv.step(actions.data());
      benchmark::DoNotOptimize(venv.observations());
    }
    state.counters["steps_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations() * venv.num_envs()), benchmark::Counter::kIsRate);
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

void BM_ObservationVectorStepGrid(benchmark::State& state) { procgen_vector_steps(state, "grid"); }
void BM_ObservationVectorStepRgb(benchmark::State& state) { procgen_vector_steps(state, "rgb"); }
void BM_ObservationVectorStepProcgenRgb(benchmark::State& state) { procgen_vector_steps(state, "procgen_rgb"); }
BENCHMARK(BM_ObservationVectorStepGrid);
BENCHMARK(BM_ObservationVectorStepRgb);
BENCHMARK(BM_ObservationVectorStepProcgenRgb);

}  // namespace
}  // namespace shardlab
