// Data parallelism's cost: one gradient all-reduce (agents/collective.h: one flat bucket over a
// two-rank Gloo group on loopback) for the maze networks, against the forward+backward of the
// samples it follows. The second rank is a thread of this process doing the same all-reduces.
// Run: ./shardlab bench --benchmark_filter='GradientAllReduce|MinibatchForwardBackward'
// Arguments: the last two IMPALA widths (16: 8/16/16, 32: 16/32/32, 128: 64/128/128) and the
// observation side (15 and 25: grids, 64: Procgen's RGB frames).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <thread>

#include "agents/actor_critic.h"
#include "agents/collective.h"
#include "bench/maze_net.h"

namespace shardlab {
namespace {

constexpr int64_t kIterations = 100;

Collective join(int64_t rank, int port) {
  WorldConfig world;
  world.world_size = 2;
  world.rank = rank;
  world.master_port = port;
  world.timeout_s = 120;
  return Collective::join(world);
}

void BM_GradientAllReduce(benchmark::State& state) {
  at::set_num_threads(1);
  const int port = free_loopback_port();
  std::thread peer([&] {
    const Collective ranks = join(1, port);
    ActorCritic net = maze_net(state.range(0), state.range(1));
    for (const auto& p : net->parameters()) p.mutable_grad() = torch::ones_like(p);
    for (int64_t i = 0; i < kIterations; ++i) ranks.average_gradients(net->parameters(), true);
  });
  const Collective ranks = join(0, port);
  ActorCritic net = maze_net(state.range(0), state.range(1));
  int64_t floats = 0;
  for (const auto& p : net->parameters()) {
    p.mutable_grad() = torch::ones_like(p);
    floats += p.numel();
  }
  for (auto _ : state) ranks.average_gradients(net->parameters(), true);
  peer.join();
  state.counters["floats"] = static_cast<double>(floats);
  state.SetBytesProcessed(state.iterations() * floats * 4);
}
BENCHMARK(BM_GradientAllReduce)
    ->Args({16, 15})
    ->Args({32, 25})
    ->Args({128, 64})
    ->Iterations(kIterations)
    ->Unit(benchmark::kMillisecond);

// The compute one all-reduce follows: forward+backward of 64 samples (channels-last, one thread).
void BM_MinibatchForwardBackward(benchmark::State& state) {
  at::set_num_threads(1);
  ActorCritic net = maze_net(state.range(0), state.range(1));
  const int64_t batch = 64;
  const at::Tensor x = torch::rand({batch, 3, state.range(1), state.range(1)});
  const at::Tensor actions = torch::randint(15, {batch}, torch::kInt64);
  for (auto _ : state) {
    const PolicyOutput out = net->forward(x);
    const at::Tensor loss = -log_prob_of(*net, out.logits_or_mean, actions).mean() + out.value.pow(2).mean();
    net->zero_grad();
    loss.backward();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_MinibatchForwardBackward)->Args({16, 15})->Args({32, 25})->Args({128, 64})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shardlab
