// PPO's two hot paths at the maze settings, with the floating-point work they do per second
// against what the machine's cores can do at peak:
//   BM_PpoUpdate   agents/ppo.h's ppo_update (forward, backward, Adam) on a synthetic rollout of
//                  grid observations; items are update samples (rollout rows x epochs)
//   BM_PpoActing   one acting step: the policy's forward pass on one observation per
//                  environment and the action sample; items are environment steps
//   BM_PpoUpdateLibtorch, BM_PpoActingLibtorch   the same with agent.conv = libtorch
//   BM_PeakFma     fused multiply-adds in registers only (no memory): the cores' peak
// Run: ./shardlab bench --benchmark_filter='Ppo|PeakFma'
// Arguments of the PPO benchmarks: the IMPALA widths' last entry (16: 8/16/16, 32: 16/32/32), the
// grid side (15: easy world, 25: hard world), environments, steps per rollout, minibatches;
// 3 epochs, 15 actions, hidden 256 (the demo runs 4 minibatches, hidden 128, 5 actions: see
// docs/benchmarks.md).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/ppo.h"
#include "bench/maze_net.h"

namespace shardlab {
namespace {

// range: width, side, envs, steps, minibatches. `conv`: agent.conv.
void ppo_update_bench(benchmark::State& state, const std::string& conv) {
  at::set_num_threads(1);
  const NetworkConfig config = maze_net_config(state.range(0));
  const int64_t side = state.range(1);
  ActorCritic net = maze_net(state.range(0), side, conv);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(5e-4).eps(1e-5));
  const Rollout rollout = maze_rollout(state.range(2), state.range(3), side);
  TrainConfig train;
  PpoConfig ppo;
  ppo.num_minibatches = state.range(4);
  at::Generator gen = at::detail::createCPUGenerator(2);
  const Collective one_rank;
  for (auto _ : state) ppo_update(*net, optimizer, rollout, train, ppo, gen, at::kCPU, one_rank);
  const double samples = static_cast<double>(rollout.rewards.numel() * ppo.update_epochs * state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(samples));
  state.counters["GFLOP/s"] =
      benchmark::Counter(samples * 3 * maze_forward_flops(config, side) / 1e9, benchmark::Counter::kIsRate);
}
void BM_PpoUpdate(benchmark::State& state) { ppo_update_bench(state, "direct"); }
void BM_PpoUpdateLibtorch(benchmark::State& state) { ppo_update_bench(state, "libtorch"); }
BENCHMARK(BM_PpoUpdate)
    ->Args({32, 25, 64, 256, 8})  // the issue-12 settings (experiments/ppo_maze_top_right.ini)
    ->Args({16, 15, 64, 64, 4})   // the demo's rollout and minibatches
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_PpoUpdateLibtorch)
    ->Args({32, 25, 64, 256, 8})
    ->Args({16, 15, 64, 64, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// range: width, side, envs.
void ppo_acting_bench(benchmark::State& state, const std::string& conv) {
  at::set_num_threads(1);
  const NetworkConfig config = maze_net_config(state.range(0));
  const int64_t side = state.range(1), envs = state.range(2);
  ActorCritic net = maze_net(state.range(0), side, conv);
  at::Generator gen = at::detail::createCPUGenerator(3);
  const at::Tensor obs = (torch::rand({envs, 3, side, side}, gen) < 0.3).to(torch::kFloat32);
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const PolicyOutput out = net->forward(obs);
    benchmark::DoNotOptimize(sample_action(*net, out.logits_or_mean, gen).action);
  }
  const double steps = static_cast<double>(envs * state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(steps));
  state.counters["GFLOP/s"] =
      benchmark::Counter(steps * maze_forward_flops(config, side) / 1e9, benchmark::Counter::kIsRate);
}
void BM_PpoActing(benchmark::State& state) { ppo_acting_bench(state, "direct"); }
void BM_PpoActingLibtorch(benchmark::State& state) { ppo_acting_bench(state, "libtorch"); }
BENCHMARK(BM_PpoActing)->Args({32, 25, 64})->Args({16, 15, 64})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PpoActingLibtorch)->Args({32, 25, 64})->Args({16, 15, 64})->Unit(benchmark::kMillisecond)->UseRealTime();

// Twelve independent chains of fused multiply-adds in registers, `Vector` (GCC's vector extension)
// wide: each FMA is 2 flops per lane. Twelve chains hide the FMA latency. Inlined into the two
// wrappers below, which compile it for 512-bit and 256-bit registers.
template <typename Vector, int kLanes>
__attribute__((always_inline)) inline double fma_chains(int64_t rounds) {
  Vector acc[12];
  for (int i = 0; i < 12; ++i)
    for (int l = 0; l < kLanes; ++l) acc[i][l] = static_cast<float>(i);
  Vector a, b;
  for (int l = 0; l < kLanes; ++l) a[l] = 0.999999f, b[l] = 1e-7f;
  for (int64_t r = 0; r < rounds; ++r)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;  // contracted to one FMA
  double total = 0;
  for (int i = 0; i < 12; ++i)
    for (int l = 0; l < kLanes; ++l) total += acc[i][l];
  return total;
}

using Float16 = float __attribute__((vector_size(64)));
using Float8 = float __attribute__((vector_size(32)));

__attribute__((target("avx512f"), noinline)) double fma512(int64_t rounds) { return fma_chains<Float16, 16>(rounds); }
__attribute__((target("avx2,fma"), noinline)) double fma256(int64_t rounds) { return fma_chains<Float8, 8>(rounds); }

// range(0): lanes (16: AVX-512, 8: AVX2). One thread: the peak of one core.
void BM_PeakFma(benchmark::State& state) {
  constexpr int64_t kRounds = 1 << 20;
  const int64_t lanes = state.range(0);
  if (lanes == 16 && !__builtin_cpu_supports("avx512f")) {
    state.SkipWithError("no AVX-512 on this CPU");
    return;
  }
  for (auto _ : state) {
    int64_t rounds = kRounds;
    benchmark::DoNotOptimize(rounds);  // a fresh call each iteration, not one hoisted result
    benchmark::DoNotOptimize(lanes == 16 ? fma512(rounds) : fma256(rounds));
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kRounds * 12 * 2 * static_cast<double>(lanes) / 1e9,
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PeakFma)->Arg(16)->Arg(8)->UseRealTime();

}  // namespace
}  // namespace shardlab
