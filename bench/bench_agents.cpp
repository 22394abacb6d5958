// Policy network and training hot paths: IMPALA forward and forward+backward on a rollout-sized
// minibatch, for grid (easy 15x15, hard 25x25) and 64x64 RGB inputs, channels-last on and off.
// Run: ./shardlab bench --benchmark_filter=Impala
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"

namespace shardlab {
namespace {

ActorCritic make_net(int64_t side, bool channels_last) {
  NetworkConfig config;
  config.channels_last = channels_last;
  ObservationSpec obs;
  obs.shape = {3, side, side};
  ActionSpec act;
  act.num_actions = 5;
  at::Generator init = at::detail::createCPUGenerator(0);
  return ActorCritic(config, obs, act, init);
}

// range(0): observation side (15, 25, 64); range(1): channels-last (0/1); range(2): batch.
void BM_ImpalaForward(benchmark::State& state) {
  at::set_num_threads(1);
  ActorCritic net = make_net(state.range(0), state.range(1) != 0);
  const at::Tensor x = torch::rand({state.range(2), 3, state.range(0), state.range(0)});
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(net->forward(x).value);
  state.SetItemsProcessed(state.iterations() * state.range(2));
}
BENCHMARK(BM_ImpalaForward)->Args({15, 1, 64})->Args({25, 1, 64})->Args({64, 1, 64})->Unit(benchmark::kMillisecond);

void BM_ImpalaForwardBackward(benchmark::State& state) {
  at::set_num_threads(1);
  ActorCritic net = make_net(state.range(0), state.range(1) != 0);
  const at::Tensor x = torch::rand({state.range(2), 3, state.range(0), state.range(0)});
  const at::Tensor actions = torch::randint(5, {state.range(2)}, torch::kInt64);
  for (auto _ : state) {
    const PolicyOutput out = net->forward(x);
    const at::Tensor loss = -log_prob_of(*net, out.logits_or_mean, actions).mean() + out.value.pow(2).mean();
    net->zero_grad();
    loss.backward();
  }
  state.SetItemsProcessed(state.iterations() * state.range(2));
}
BENCHMARK(BM_ImpalaForwardBackward)
    ->Args({15, 0, 2048})
    ->Args({15, 1, 2048})
    ->Args({25, 0, 2048})
    ->Args({25, 1, 2048})
    ->Args({64, 0, 512})
    ->Args({64, 1, 512})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shardlab
