// Offline learners' gradient steps at the reference sizes: ATAC (critic 3 x 256 twin Q, actor
// 3 x 256 tanh-Gaussian) on the continuous lunar lander's shapes (8-dimensional observations,
// 2-dimensional actions, as the lightATAC comparison in docs/benchmarks.md) and IQL (2 x 256 Q, V
// and Gaussian actor) on hopper's (11 and 3), batch 256. range(0) = torch's intra-op threads,
// range(1) = OpenBLAS threads (the matrix products).
// Run: ./shardlab_bench --benchmark_filter=Offline
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "core/spec.h"
#include "experiments/schema.h"
#include "offline/learner.h"

namespace shardlab {
namespace {

constexpr int64_t kObs = 11, kAct = 3, kBatch = 256;
constexpr int64_t kLanderObs = 8, kLanderAct = 2;  // LunarLanderContinuous

void set_threads(int torch_threads, int blas_threads) {
  keep_freed_memory_for_reuse();  // as an offline run should
  at::set_num_threads(torch_threads);
  set_blas_threads(blas_threads);
}

Transitions random_batch(int64_t obs, int64_t act, at::Generator& g) {
  Transitions b;
  b.observations = at::randn({kBatch, obs}, g, torch::kFloat32);
  b.next_observations = at::randn({kBatch, obs}, g, torch::kFloat32);
  b.actions = at::rand({kBatch, act}, g, torch::kFloat32) * 2 - 1;
  b.rewards = at::rand({kBatch}, g, torch::kFloat32);
  b.terminals = (at::rand({kBatch}, g, torch::kFloat32) < 0.01).to(torch::kFloat32);
  return b;
}

void run_updates(benchmark::State& state, const std::vector<std::pair<std::string, std::string>>& values,
                 int64_t obs_dim = kObs, int64_t act_dim = kAct) {
  set_threads(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  Spec spec(shardlab_schema());
  for (const auto& [k, v] : values) spec.set(k, v, "bench");
  ObservationSpec obs;
  obs.shape = {obs_dim};
  ActionSpec act;
  act.discrete = false;
  act.dim = act_dim;
  at::Generator init = at::detail::createCPUGenerator(0), gen = at::detail::createCPUGenerator(1);
  std::unique_ptr<Learner> learner = make_offline_learner({spec, obs, act, torch::kCPU, init, 1000000});
  // A few fixed batches, so the data cost is not what is measured.
  std::vector<Transitions> batches;
  for (int i = 0; i < 8; ++i) batches.push_back(random_batch(obs_dim, act_dim, gen));
  int64_t step = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(learner->update(batches[step % batches.size()], step, gen));
    ++step;
  }
  state.counters["updates_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// ATAC at the reference sizes (3 x 256 ReLU actor and critics, tanh-Gaussian head), plus `extra`.
std::vector<std::pair<std::string, std::string>> atac_reference(
    std::vector<std::pair<std::string, std::string>> extra) {
  std::vector<std::pair<std::string, std::string>> keys = {
      {"offline.algo", "atac"},         {"agent.torso", "mlp"},
      {"agent.hidden", "256"},          {"agent.mlp_layers", "3"},
      {"agent.mlp_activation", "relu"}, {"agent.policy_head", "tanh_gaussian"},
      {"atac.hidden", "256"},           {"atac.layers", "3"}};
  keys.insert(keys.end(), extra.begin(), extra.end());
  return keys;
}

// ATAC proper (after the warm start), the reference sizes: the hand-written step (atac.fused), its
// halves in order on one thread (OpenBLAS at range(1) threads).
void BM_OfflineAtacUpdate(benchmark::State& state) {
  run_updates(state, atac_reference({{"atac.warmup_steps", "0"}, {"atac.threads", "1"}}), kLanderObs, kLanderAct);
}
BENCHMARK(BM_OfflineAtacUpdate)->Args({1, 1})->Args({1, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

// The same step with its halves side by side on two threads (atac.threads = 2), each with
// one-thread OpenBLAS (the learner sets it): the two-core figure.
void BM_OfflineAtacTwoThreadUpdate(benchmark::State& state) {
  run_updates(state, atac_reference({{"atac.warmup_steps", "0"}, {"atac.threads", "2"}}), kLanderObs, kLanderAct);
}
BENCHMARK(BM_OfflineAtacTwoThreadUpdate)->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// The autograd step (atac.fused = false): the unoptimised path the fused one is checked against.
void BM_OfflineAtacAutogradUpdate(benchmark::State& state) {
  run_updates(state, atac_reference({{"atac.warmup_steps", "0"}, {"atac.fused", "false"}}), kLanderObs, kLanderAct);
}
BENCHMARK(BM_OfflineAtacAutogradUpdate)->Args({1, 1})->Args({1, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

// ATAC's warm start (behaviour cloning + Bellman-only critic, through autograd).
void BM_OfflineAtacWarmupUpdate(benchmark::State& state) {
  run_updates(state, atac_reference({{"atac.warmup_steps", "1000000000"}}), kLanderObs, kLanderAct);
}
BENCHMARK(BM_OfflineAtacWarmupUpdate)->Args({1, 1})->Args({1, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_OfflineIqlUpdate(benchmark::State& state) {
  run_updates(state, {{"offline.algo", "iql"},
                      {"agent.torso", "mlp"},
                      {"agent.hidden", "256"},
                      {"agent.mlp_layers", "2"},
                      {"agent.mlp_activation", "relu"},
                      {"agent.policy_head", "gaussian"},
                      {"iql.hidden", "256"},
                      {"iql.layers", "2"}});
}
BENCHMARK(BM_OfflineIqlUpdate)->Args({1, 1})->Args({1, 2})->Args({2, 2})->Unit(benchmark::kMillisecond)->UseRealTime();

// The machine's matrix-product rate at the critic's hidden-layer shape, (768 x 256) x (256 x 256):
// an ATAC step is about 1.75 GFLOP of such products, so this bounds its updates/s.
void BM_OfflineGemm(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const at::Tensor a = torch::randn({768, 256}), b = torch::randn({256, 256});
  for (auto _ : state) benchmark::DoNotOptimize(a.matmul(b));
  state.counters["gflops"] =
      benchmark::Counter(2.0 * 768 * 256 * 256 * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_OfflineGemm)->Args({1, 1})->Args({1, 2})->Args({2, 2})->UseRealTime();

}  // namespace
}  // namespace shardlab
