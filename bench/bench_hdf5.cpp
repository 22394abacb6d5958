// Experience files: append throughput of ExperienceWriter and read throughput of read_experience
// on real maze rows (3 x 25 x 25 float32 grids of walls, cheese and mouse, 0 or 1), plus the
// raw observations column under different gzip levels, shuffle and chunk sizes, which is how
// core/experience_file.cpp's compression settings were chosen.
// Run: build/shardlab_bench --benchmark_filter='Hdf5|Experience'
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "agents/random_policy.h"
#include "core/episode_assembler.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

constexpr int64_t kSide = 25;
constexpr int64_t kCells = kSide * kSide;
constexpr int64_t kObsSize = 3 * kCells;
// Uncompressed bytes of one row as the writer stores it: observation, int64 action, float32
// reward, two bool flags, one int64 info.
constexpr int64_t kRowBytes = kObsSize * 4 + 8 + 4 + 2 + 8;

// A scratch folder for the benchmark's files, removed when the benchmark ends.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base ? base : "/tmp") + "/shardlab_bench_XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Real maze experience: a random policy in 16 hard mazes (grid observations), episodes back to
// back, exactly what `shardlab collect` writes.
Experience maze_like_batch(int64_t rows, uint64_t seed) {
  const Spec spec = Spec::load(shardlab_schema(), "", {"env.num_envs=16", "run.seed=" + std::to_string(seed)});
  VectorEnv venv = make_vector_env(spec);
  const int n = venv.num_envs();
  const int64_t obs_size = venv.observation_spec().size();
  RandomPolicy policy(venv.action_spec(), seed);
  EpisodeAssembler assembler(n, venv.observation_spec(), venv.action_spec(), venv.info_names(), false);
  std::vector<int64_t> actions(n), infos(n);
  std::vector<float> before;
  while (static_cast<int64_t>(assembler.pending_rows()) < rows) {
    before.assign(venv.observations(), venv.observations() + n * obs_size);
    std::copy(venv.infos(), venv.infos() + n, infos.begin());
    policy.act(actions.data(), n);
    venv.step(actions.data());
    for (int i = 0; i < n; ++i)
      assembler.add(i, &before[i * obs_size], &actions[i], nullptr, venv.rewards()[i], venv.terminated()[i],
                    venv.truncated()[i], &infos[i], nullptr);
  }
  assembler.cut_unfinished();
  Experience all = assembler.take_finished();
  Experience e = all;
  e.clear();
  e.append(all, 0, static_cast<size_t>(rows));
  return e;
}

double file_size(const std::string& path) {
  struct stat status;
  return ::stat(path.c_str(), &status) == 0 ? static_cast<double>(status.st_size) : 0.0;
}

// Rows appended per second through ExperienceWriter (the file is closed outside the timing).
void BM_ExperienceWriterAppend(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const std::vector<Experience> batches = {maze_like_batch(rows, 1), maze_like_batch(rows, 2)};
  ScratchDir scratch;
  const std::string path = scratch.file("bench.h5");
  ExperienceWriter writer(path, batches[0].observation_spec, batches[0].action_spec, false, {"level_seed"},
                          {{"env", "bench"}}, true);
  size_t k = 0;
  for (auto _ : state) writer.append(batches[k++ % batches.size()]);
  writer.close();  // after the timed loop
  const int64_t total = state.iterations() * rows;
  state.SetItemsProcessed(total);
  state.SetBytesProcessed(total * kRowBytes);
  state.counters["file_bytes_per_row"] = file_size(path) / static_cast<double>(total);
  state.counters["compression"] = static_cast<double>(total * kRowBytes) / file_size(path);
}
BENCHMARK(BM_ExperienceWriterAppend)->Arg(4096)->Arg(512)->Unit(benchmark::kMillisecond);

// Rows read per second by read_experience of a whole file.
void BM_ReadExperience(benchmark::State& state) {
  const int64_t rows = state.range(0);
  ScratchDir scratch;
  const std::string path = scratch.file("bench.h5");
  {
    const Experience batch = maze_like_batch(rows, 3);
    ExperienceWriter writer(path, batch.observation_spec, batch.action_spec, false, {"level_seed"}, {}, true);
    writer.append(batch);
    writer.close();
  }
  for (auto _ : state) benchmark::DoNotOptimize(read_experience(path));
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * rows * kRowBytes);
  state.counters["file_bytes_per_row"] = file_size(path) / static_cast<double>(rows);
}
BENCHMARK(BM_ReadExperience)->Arg(16384)->Unit(benchmark::kMillisecond);

// The observations column alone: args are gzip level, shuffle (0/1) and chunk KiB.
void BM_Hdf5AppendObservations(benchmark::State& state) {
  const int64_t rows = 4096;
  const Experience batch = maze_like_batch(rows, 4);
  ScratchDir scratch;
  const std::string path = scratch.file("obs.h5");
  Hdf5DatasetOptions options;
  options.gzip_level = static_cast<int>(state.range(0));
  options.shuffle = state.range(1) != 0;
  options.chunk_bytes = state.range(2) * 1024;
  Hdf5File file = Hdf5File::create(path);
  file.create_dataset("observations", Hdf5Type::kFloat32, {3, kSide, kSide}, options);
  for (auto _ : state) file.append("observations", batch.observations);
  file.close();  // after the timed loop
  const int64_t total = state.iterations() * rows;
  state.SetItemsProcessed(total);
  state.SetBytesProcessed(total * kObsSize * 4);
  state.counters["file_bytes_per_row"] = file_size(path) / static_cast<double>(total);
}
BENCHMARK(BM_Hdf5AppendObservations)
    ->ArgNames({"gzip", "shuffle", "chunk_kib"})
    ->ArgsProduct({{0, 1, 2, 3, 4, 6}, {0, 1}, {256}})
    ->ArgsProduct({{3}, {1}, {64, 128, 512, 1024}})
    ->Unit(benchmark::kMillisecond);

// Reading one channel of an (N, C, H, W) activation-log-like dataset chunked per channel.
void BM_Hdf5ReadOneChannel(benchmark::State& state) {
  const int64_t rows = 4096, channels = 16;
  ScratchDir scratch;
  const std::string path = scratch.file("acts.h5");
  {
    Hdf5File file = Hdf5File::create(path);
    Hdf5DatasetOptions options;
    options.chunk_shape = {256, 1, kSide, kSide};
    options.gzip_level = 1;
    file.create_dataset("acts", Hdf5Type::kFloat32, {channels, kSide, kSide}, options);
    Rng rng(5);
    std::vector<float> values(static_cast<size_t>(rows * channels * kCells));
    for (float& v : values) v = static_cast<float>(rng.next_u64() % 1000) * 0.001f;
    file.append("acts", values);
    file.close();
  }
  const Hdf5File file = Hdf5File::open(path);
  for (auto _ : state) benchmark::DoNotOptimize(file.read_slab<float>("acts", {0, 3, 0, 0}, {rows, 1, kSide, kSide}));
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * rows * kCells * 4);
}
BENCHMARK(BM_Hdf5ReadOneChannel)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace shardlab
