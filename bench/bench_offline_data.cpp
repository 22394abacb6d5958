// Drawing offline minibatches: batch 256 from a 1M-row dataset of hopper's shapes (11-dim
// observations, 3-dim actions), with the next observation found by row index (files without
// next_observations, as ours) or stored. The ATAC update it feeds is BM_OfflineAtacUpdate in
// bench/bench_offline.cpp: sampling must cost under 5% of it.
// Run: ./shardlab_bench --benchmark_filter=OfflineSample
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "core/experience.h"
#include "offline/dataset.h"

namespace shardlab {
namespace {

constexpr int64_t kDatasetRows = 1000000, kDatasetObs = 11, kDatasetAct = 3, kSampleBatch = 256;

// Episodes of 1000 rows: every 1000th row ends one (alternately terminal and timeout).
const OfflineDataset& dataset(bool with_next) {
  auto make = [](bool next) {
    Experience e;
    e.observation_spec.shape = {kDatasetObs};
    e.action_spec.discrete = false;
    e.action_spec.dim = kDatasetAct;
    e.observations.resize(kDatasetRows * kDatasetObs);
    for (size_t i = 0; i < e.observations.size(); ++i) e.observations[i] = static_cast<float>(i % 97) * 0.01f;
    if (next) e.next_observations = e.observations;
    e.continuous_actions.assign(kDatasetRows * kDatasetAct, 0.5f);
    e.rewards.assign(kDatasetRows, 1.0f);
    e.terminals.assign(kDatasetRows, 0);
    e.timeouts.assign(kDatasetRows, 0);
    std::vector<int64_t> next_index(kDatasetRows);
    for (int64_t i = 0; i < kDatasetRows; ++i) {
      const bool end = i % 1000 == 999;
      if (end && (i / 1000) % 2 == 0) e.terminals[i] = 1;
      if (end && (i / 1000) % 2 == 1) e.timeouts[i] = 1;
      next_index[i] = e.terminals[i] ? i : end ? -1 : i + 1;
    }
    return OfflineDataset::from_experience(std::move(e), next_index, RewardLabel::kTrue, 0, "bench");
  };
  static const OfflineDataset indexed = make(false), stored = make(true);
  return with_next ? stored : indexed;
}

void BM_OfflineSampleBatch(benchmark::State& state) {
  at::set_num_threads(1);
  const OfflineDataset& d = dataset(state.range(0) != 0);
  at::Generator gen = at::detail::createCPUGenerator(1);
  for (auto _ : state) {
    Transitions b = d.sample(kSampleBatch, gen, at::kCPU);
    benchmark::DoNotOptimize(b.observations.data_ptr<float>());
  }
  state.counters["batches_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(state.range(0) ? "stored next_observations" : "next observation by row index");
}
BENCHMARK(BM_OfflineSampleBatch)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shardlab
