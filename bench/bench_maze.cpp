// Maze hot paths: level generation and batched stepping (random actions, auto-reset included).
// Run: ./shardlab bench --benchmark_filter=Maze
#include <benchmark/benchmark.h>

#include "agents/random_policy.h"
#include "envs/maze/maze_generator.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

void BM_MazeGenerateHard(benchmark::State& state) {
  uint32_t seed = 0;
  const maze::Placement placement;
  for (auto _ : state) benchmark::DoNotOptimize(maze::generate_maze(seed++, maze::kHardWorld, placement));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MazeGenerateHard);

// Steps per second of a vector environment of `range(0)` hard mazes; observation kind from the name.
void vector_steps(benchmark::State& state, const std::string& observation) {
  const Spec spec = Spec::load(shardlab_schema(), "",
                               {"env.num_envs=" + std::to_string(state.range(0)), "env.observation=" + observation});
  VectorEnv venv = make_vector_env(spec);
  RandomPolicy policy(venv.action_spec(), 1);
  std::vector<int64_t> actions(venv.num_envs());
  for (auto _ : state) {
    policy.act(actions.data(), venv.num_envs());
    venv.step(actions.data());
    benchmark::DoNotOptimize(venv.observations());
  }
  state.SetItemsProcessed(state.iterations() * venv.num_envs());
  state.counters["steps_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * venv.num_envs()), benchmark::Counter::kIsRate);
}

void BM_MazeVectorStepGrid(benchmark::State& state) { vector_steps(state, "grid"); }
void BM_MazeVectorStepRgb(benchmark::State& state) { vector_steps(state, "rgb"); }
BENCHMARK(BM_MazeVectorStepGrid)->Arg(64)->Arg(512);
BENCHMARK(BM_MazeVectorStepRgb)->Arg(64)->Arg(512);

}  // namespace
}  // namespace shardlab
