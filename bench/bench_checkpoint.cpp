// Checkpoint hot paths: saving and loading the model and Adam state of the default IMPALA network
// (64x64 RGB inputs), and the SHA-256 over the same number of bytes, so the hash's share of a
// save or load is a ratio within one run. Run: ./shardlab bench --benchmark_filter=Checkpoint
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "agents/checkpoint.h"
#include "core/digest.h"
#include "core/text.h"

namespace shardlab {
namespace {

struct Fixture {
  ActorCritic net{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer;
  Checkpoint checkpoint;
  std::string path = (std::filesystem::temp_directory_path() / "shardlab_bench_checkpoint.pt").string();

  Fixture() {
    ObservationSpec obs;
    obs.shape = {3, 64, 64};
    ActionSpec act;
    act.num_actions = 15;
    at::Generator init = at::detail::createCPUGenerator(0);
    net = ActorCritic(NetworkConfig{}, obs, act, init);
    optimizer = std::make_unique<torch::optim::Adam>(net->parameters());
    // One step, so the optimizer holds its moment estimates as a resumed run would.
    net->forward(torch::rand({2, 3, 64, 64})).value.sum().backward();
    optimizer->step();
    checkpoint.add("model", *net);
    checkpoint.add("optimizer", *optimizer);
  }
  ~Fixture() { std::filesystem::remove(path); }
};

void BM_CheckpointSave(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) f.checkpoint.save(f.path, "");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(std::filesystem::file_size(f.path)));
}
BENCHMARK(BM_CheckpointSave)->Unit(benchmark::kMillisecond);

void BM_CheckpointLoad(benchmark::State& state) {
  Fixture f;
  f.checkpoint.save(f.path, "");
  for (auto _ : state) f.checkpoint.load(f.path);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(std::filesystem::file_size(f.path)));
}
BENCHMARK(BM_CheckpointLoad)->Unit(benchmark::kMillisecond);

void BM_CheckpointSha256(benchmark::State& state) {
  Fixture f;
  f.checkpoint.save(f.path, "");
  const std::string bytes = read_text_file(f.path);
  for (auto _ : state) benchmark::DoNotOptimize(sha256_hex(bytes.data(), bytes.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_CheckpointSha256)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shardlab
