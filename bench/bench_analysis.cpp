// Activation logs: recording throughput (mazes per second, every layer, 16/32/32 IMPALA net on
// 15x15 grids) and reading one channel of one layer for 10,000 mazes against reading whole rows.
// Run: build/shardlab_bench --benchmark_filter=Activation
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "agents/checkpoint.h"
#include "analysis/activation_log.h"
#include "analysis/maze_policy.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
const std::string kLayer = "embedder.block2.res1.resadd_out";

std::string scratch() {
  const char* base = std::getenv("TMPDIR");
  const fs::path dir = fs::path(base ? base : "/tmp") / ("shardlab_bench_analysis_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir.string();
}

// A randomly initialised 16/32/32 maze policy (recording cost does not depend on training).
const analysis::MazePolicy& policy() {
  static const analysis::MazePolicy p = [] {
    const Spec spec =
        Spec::load(shardlab_schema(), "", {"env.distribution=easy", "env.actions=compact", "run.threads=1"});
    ObservationSpec obs;
    obs.shape = {3, 15, 15};
    ActionSpec act;
    act.num_actions = 5;
    at::Generator init = at::detail::createCPUGenerator(1);
    ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
    const std::string path = scratch() + "/policy.pt";
    save_policy(path, *net, spec);
    return analysis::MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"});
  }();
  return p;
}

void BM_ActivationRecordAllLayers(benchmark::State& state) {
  at::set_num_threads(1);
  const std::string path = scratch() + "/all.h5";
  analysis::RecordOptions o;
  o.seed_end = state.range(0);
  o.force = true;
  int64_t rows = 0;
  for (auto _ : state) rows += analysis::record_activations(policy(), o, path, "bench");
  state.counters["mazes/s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  fs::remove(path);
}
BENCHMARK(BM_ActivationRecordAllLayers)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// A log of 10,000 mazes with one layer, written once.
const analysis::ActivationLog& big_log() {
  static const analysis::ActivationLog log = [] {
    analysis::RecordOptions o;
    o.seed_end = 10000;
    o.layers = {kLayer};
    o.force = true;
    const std::string path = scratch() + "/big.h5";
    analysis::record_activations(policy(), o, path, "bench");
    return analysis::ActivationLog::open(path);
  }();
  return log;
}

void BM_ActivationReadOneChannel(benchmark::State& state) {
  const auto& log = big_log();
  for (auto _ : state) benchmark::DoNotOptimize(log.channel(kLayer, 5));
  state.counters["mazes/s"] =
      benchmark::Counter(static_cast<double>(log.rows()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ActivationReadOneChannel)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same mazes, every channel (what a row-chunked layout would cost for one channel).
void BM_ActivationReadAllChannels(benchmark::State& state) {
  const auto& log = big_log();
  const auto shape = log.layer_shape(kLayer);
  for (auto _ : state)
    for (int64_t c = 0; c < shape[0]; ++c) benchmark::DoNotOptimize(log.channel(kLayer, c));
  state.counters["mazes/s"] =
      benchmark::Counter(static_cast<double>(log.rows()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ActivationReadAllChannels)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace shardlab
