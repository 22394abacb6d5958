// agents/impala_kernels.h one kernel at a time, on one batch block (16 samples) of each layer shape
// the maze networks have, with the floating-point work per second to set against BM_PeakFma:
//   BM_Conv3x3           forward (also the input gradient: the same kernel with flipped weights)
//   BM_Conv3x3WeightGrad the weight and bias gradients
//   BM_MaxPool3x3, BM_MaxPool3x3Grad
// Arguments: input channels, output channels, side (the plane is side x side). The demo's 8/16/16
// on 15x15 grids has 3/8/15, 8/8/8, 8/16/8, 16/16/4, 16/16/2; the 16/32/32 on 25x25 has 3/16/25,
// 16/16/13, 16/32/13, 32/32/7, 32/32/4. Run: ./shardlab bench --benchmark_filter='Conv3x3|MaxPool'
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "agents/impala_direct.h"
#include "agents/impala_kernels.h"
#include "agents/torso.h"
#include "bench/maze_net.h"

namespace shardlab {
namespace {

namespace kernels = impala_kernels;
using kernels::kLanes;
using kernels::Plane;

// A plane of random values in [-1, 1) with a zero border, owning its floats.
struct OwnedPlane {
  std::vector<float> floats;
  Plane plane;
  OwnedPlane(int64_t channels, int64_t side, std::mt19937& rng) {
    plane = {nullptr, channels, side, side};
    floats.assign(plane.size(), 0.0f);
    plane.data = floats.data();
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < side; ++y)
        for (int64_t x = 0; x < side; ++x)
          for (int64_t l = 0; l < kLanes; ++l) plane.at(c, y, x)[l] = uniform(rng);
  }
};

void set_conv_flops(benchmark::State& state, int64_t in, int64_t out, int64_t side) {
  const double flops = 2.0 * 9 * static_cast<double>(in * out * side * side * kLanes);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * kLanes);
}

void BM_Conv3x3(benchmark::State& state) {
  const int64_t in = state.range(0), out = state.range(1), side = state.range(2);
  std::mt19937 rng(1);
  const OwnedPlane x(in, side, rng);
  OwnedPlane y(out, side, rng);
  std::vector<float> weights(in * out * 9, 0.01f), bias(out, 0.1f);
  for (auto _ : state) {
    kernels::conv3x3(x.plane, weights.data(), bias.data(), y.plane, {nullptr, nullptr, true});
    benchmark::ClobberMemory();
  }
  set_conv_flops(state, in, out, side);
}

void BM_Conv3x3WeightGrad(benchmark::State& state) {
  const int64_t in = state.range(0), out = state.range(1), side = state.range(2);
  std::mt19937 rng(2);
  const OwnedPlane x(in, side, rng), g(out, side, rng);
  std::vector<float> weight_grad(out * in * 9 * kLanes), bias_grad(out * kLanes);
  for (auto _ : state) {
    kernels::conv3x3_weight_grad(&x.plane, &g.plane, 1, weight_grad.data(), bias_grad.data());
    benchmark::ClobberMemory();
  }
  set_conv_flops(state, in, out, side);
}

#define SHARDLAB_LAYER_SHAPES                                                                                      \
  Args({3, 8, 15})->Args({8, 8, 8})->Args({8, 16, 8})->Args({16, 16, 4})->Args({16, 16, 2})->Args({3, 16, 25}) \
      ->Args({16, 16, 13})                                                                                         \
      ->Args({16, 32, 13})                                                                                         \
      ->Args({32, 32, 7})                                                                                          \
      ->Args({32, 32, 4})
BENCHMARK(BM_Conv3x3)->SHARDLAB_LAYER_SHAPES;
BENCHMARK(BM_Conv3x3WeightGrad)->SHARDLAB_LAYER_SHAPES;
#undef SHARDLAB_LAYER_SHAPES

// range: channels, input side.
void BM_MaxPool3x3(benchmark::State& state) {
  const int64_t channels = state.range(0), side = state.range(1), pooled = (side + 1) / 2;
  std::mt19937 rng(3);
  const OwnedPlane x(channels, side, rng);
  OwnedPlane y(channels, pooled, rng);
  std::vector<int32_t> argmax(channels * pooled * pooled * kLanes);
  for (auto _ : state) {
    kernels::max_pool3x3(x.plane, y.plane, argmax.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kLanes);
}

void BM_MaxPool3x3Grad(benchmark::State& state) {
  const int64_t channels = state.range(0), side = state.range(1), pooled = (side + 1) / 2;
  std::mt19937 rng(4);
  const OwnedPlane x(channels, side, rng);
  OwnedPlane y(channels, pooled, rng), x_grad(channels, side, rng);
  std::vector<int32_t> argmax(channels * pooled * pooled * kLanes);
  kernels::max_pool3x3(x.plane, y.plane, argmax.data());
  for (auto _ : state) {
    kernels::max_pool3x3_grad(y.plane, argmax.data(), x_grad.plane);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kLanes);
}
BENCHMARK(BM_MaxPool3x3)->Args({8, 15})->Args({16, 8})->Args({16, 4});
BENCHMARK(BM_MaxPool3x3Grad)->Args({8, 15})->Args({16, 8})->Args({16, 4});

// The whole direct torso (agents/impala_direct.h) of the maze network, forward with saved
// activations and backward, on one minibatch: range width (16: 8/16/16), side, batch. Its
// arithmetic is the convolutions' share of BM_PpoUpdate's; the difference from the kernels' sum
// above is the torso's own layout work (transposing observations, zeroing borders, saving).
void BM_ImpalaDirectTorso(benchmark::State& state) {
  at::set_num_threads(1);
  const int64_t side = state.range(1), batch = state.range(2);
  ObservationSpec spec;
  spec.shape = {3, side, side};
  Torso torso(maze_net_config(state.range(0)), spec);
  const std::vector<at::Tensor> params = torso->conv_parameters();
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor obs = (torch::rand({batch, 3, side, side}, gen) < 0.3).to(torch::kFloat32);
  for (auto _ : state) {
    const at::Tensor features = impala_direct_features(obs, params);
    features.sum().backward();
  }
  const NetworkConfig config = maze_net_config(state.range(0));
  const double conv_flops = maze_forward_flops(config, side) - 2.0 * (config.channels.back() * 4 * 256 + 256 * 16);
  state.counters["GFLOP/s"] = benchmark::Counter(
      (3 * conv_flops - maze_first_conv_flops(config, side)) * static_cast<double>(batch * state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_ImpalaDirectTorso)->Args({16, 15, 1024})->Args({16, 15, 64})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace shardlab
