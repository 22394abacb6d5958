// The maze's offline gradient step (issue 31: "maze offline updates run at 5-20/s"): discrete ATAC
// on the IMPALA 8/16/16 torso with the fc layer at 256 (the survival-instinct spec's maze
// overrides), 3 x 15 x 15 grid observations, the compact action set (5), batch 64.
// range(0) = torch's intra-op threads (the convolutions), range(1) = OpenBLAS threads (the
// linear layers' matrix products).
//
// GFLOP/s counts the convolutions and linear layers that one update of offline/atac.cpp's
// discrete branch runs, in samples of one network's pass (F = maze_forward_flops, B = 64):
//   forward:  pi(s') no grad (B), the target twin on s' (2B), pi(s) (B), the twin critic on
//             [s; s'] (4B), after the warm start Q2(s) for the actor's loss (B): 9B, 8B warm;
//   backward: the twin critic (4B), the actor (B), each 2F less the first convolution's input
//             gradient (the observations need none).
// Run: ./shardlab bench --benchmark_filter=OfflineMaze
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "bench/maze_net.h"
#include "core/spec.h"
#include "experiments/schema.h"
#include "offline/learner.h"

namespace shardlab {
namespace {

constexpr int64_t kMazeSide = 15, kActions = 5, kMazeBatch = 64;

NetworkConfig offline_maze_config() {
  NetworkConfig config = maze_net_config(16);
  config.hidden = 256;
  return config;
}

// Grids with the maze's three planes about a third full, random actions and rare cheese.
Transitions maze_batch(at::Generator& g) {
  auto grid = [&] {
    return (at::rand({kMazeBatch, 3, kMazeSide, kMazeSide}, g, torch::kFloat32) < 0.3).to(torch::kFloat32);
  };
  Transitions b;
  b.observations = grid();
  b.next_observations = grid();
  b.actions = at::randint(kActions, {kMazeBatch}, g, torch::kInt64);
  b.rewards = (at::rand({kMazeBatch}, g, torch::kFloat32) < 0.05).to(torch::kFloat32) * 10;
  b.terminals = b.rewards / 10;
  return b;
}

double update_flops(bool warm_start) {
  const NetworkConfig c = offline_maze_config();
  const double f = maze_forward_flops(c, kMazeSide, kActions);
  const double backward = 2 * f - maze_first_conv_flops(c, kMazeSide);
  return kMazeBatch * ((warm_start ? 8 : 9) * f + 5 * backward);
}

// range: torch threads, OpenBLAS threads, 1 = the warm start (BC actor, Bellman-only critic).
void BM_OfflineMazeAtacUpdate(benchmark::State& state) {
  keep_freed_memory_for_reuse();  // as an offline run does
  at::set_num_threads(static_cast<int>(state.range(0)));
  set_blas_threads(static_cast<int>(state.range(1)));
  const bool warm_start = state.range(2) == 1;
  const NetworkConfig c = offline_maze_config();
  Spec spec(shardlab_schema());
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"offline.algo", "atac"},
                                                        {"agent.torso", "impala"},
                                                        {"agent.channels", "8,16,16"},
                                                        {"agent.hidden", std::to_string(c.hidden)},
                                                        {"atac.warmup_steps", warm_start ? "1000000000" : "0"}})
    spec.set(k, v, "bench");
  ObservationSpec obs;
  obs.shape = {3, kMazeSide, kMazeSide};
  ActionSpec act;
  act.num_actions = kActions;
  at::Generator init = at::detail::createCPUGenerator(0), gen = at::detail::createCPUGenerator(1);
  std::unique_ptr<Learner> learner = make_offline_learner({spec, obs, act, torch::kCPU, init, 1000000});
  std::vector<Transitions> batches;  // a few fixed batches: the data's cost is not measured here
  for (int i = 0; i < 8; ++i) batches.push_back(maze_batch(gen));
  int64_t step = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(learner->update(batches[step % batches.size()], step, gen));
    ++step;
  }
  const double updates = static_cast<double>(state.iterations());
  state.counters["updates_per_s"] = benchmark::Counter(updates, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(updates * update_flops(warm_start) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OfflineMazeAtacUpdate)
    ->Args({1, 1, 0})
    ->Args({1, 2, 0})
    ->Args({2, 1, 0})
    ->Args({2, 2, 0})
    ->Args({1, 1, 1})
    ->Args({2, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One network's forward + backward over 64 samples (the unit the update is made of), for
// comparison: range = torch threads.
void BM_OfflineMazeForwardBackward(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  set_blas_threads(1);
  const NetworkConfig c = offline_maze_config();
  ObservationSpec obs;
  obs.shape = {3, kMazeSide, kMazeSide};
  ActionSpec act;
  act.num_actions = kActions;
  at::Generator init = at::detail::createCPUGenerator(0), gen = at::detail::createCPUGenerator(1);
  ActorCritic net(c, obs, act, init);
  const Transitions b = maze_batch(gen);
  for (auto _ : state) {
    net->zero_grad();
    const PolicyOutput out = net->forward(b.observations);
    (out.logits_or_mean.logsumexp(1).mean() + out.value.mean()).backward();
  }
  const double samples = static_cast<double>(kMazeBatch * state.iterations());
  const double flops = 3 * maze_forward_flops(c, kMazeSide, kActions) - maze_first_conv_flops(c, kMazeSide);
  state.counters["GFLOP/s"] = benchmark::Counter(samples * flops / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OfflineMazeForwardBackward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace shardlab
