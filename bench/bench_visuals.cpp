// Video encoding: frames per second of the GIF writer (quantisation to the 6x7x6 palette and
// giflib's LZW) and of the MP4 writer (RGB to yuv420p, H.264 through libx264; where built with
// ffmpeg) on real frames of a maze episode and a lunar lander episode, as `render --out FILE.gif`
// and `--out FILE.mp4` draw them. Run: ./shardlab bench --benchmark_filter='Gif|Mp4'
#include <benchmark/benchmark.h>

#include <filesystem>

#include "agents/random_policy.h"
#include "envs/env.h"
#include "envs/registry.h"
#include "experiments/schema.h"
#include "media/video.h"

namespace shardlab {
namespace {

// `count` frames of the random policy in `env_name` (episodes restart when they end).
std::vector<Frame> episode_frames(const std::string& env_name, int count) {
  const Spec spec = Spec::load(shardlab_schema(), "", {"env.name=" + env_name});
  auto env = make_env(spec, 0);
  RandomPolicy policy(env->action_spec(), 1);
  std::vector<float> values(std::max<int64_t>(1, env->action_spec().dim));
  std::vector<Frame> frames;
  while (static_cast<int>(frames.size()) < count) {
    frames.push_back(env->draw());
    Action a;
    if (env->action_spec().discrete) {
      policy.act(&a.index, 1);
    } else {
      policy.act(values.data(), 1);
      a.values = values.data();
    }
    if (env->step(a).done()) env->reset();
  }
  return frames;
}

// `extension`: "gif" or "mp4", at render's default 20 frames/s.
void encode(benchmark::State& state, const std::string& env_name, const std::string& extension) {
  const std::vector<Frame> frames = episode_frames(env_name, 100);
  const std::string path = (std::filesystem::temp_directory_path() / ("bench_" + env_name + "." + extension)).string();
  int64_t encoded = 0;
  for (auto _ : state) {
    std::unique_ptr<VideoWriter> video = open_video(path, frames[0].width, frames[0].height, 20);
    for (const Frame& f : frames) video->add_frame(f.chw.data());
    video->finish();
    encoded += static_cast<int64_t>(frames.size());
  }
  state.counters["frames_per_s"] = benchmark::Counter(static_cast<double>(encoded), benchmark::Counter::kIsRate);
  state.counters["bytes_per_frame"] =
      static_cast<double>(std::filesystem::file_size(path)) / static_cast<double>(frames.size());
  std::filesystem::remove(path);
}

void BM_GifEncodeMaze(benchmark::State& state) { encode(state, "maze", "gif"); }
void BM_GifEncodeLunarLander(benchmark::State& state) { encode(state, "lunar_lander", "gif"); }
BENCHMARK(BM_GifEncodeMaze)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GifEncodeLunarLander)->Unit(benchmark::kMillisecond);
#ifdef SHARDLAB_HAVE_FFMPEG
void BM_Mp4EncodeMaze(benchmark::State& state) { encode(state, "maze", "mp4"); }
void BM_Mp4EncodeLunarLander(benchmark::State& state) { encode(state, "lunar_lander", "mp4"); }
// Wall-clock: x264 encodes on threads of its own, which the benchmark thread's CPU time misses.
BENCHMARK(BM_Mp4EncodeMaze)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mp4EncodeLunarLander)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace
}  // namespace shardlab
