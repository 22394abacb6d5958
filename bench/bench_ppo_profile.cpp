// Where the PPO update's and acting's time goes, per kind of operator: the benchmarks of
// bench_ppo.cpp run with a RecordFunction observer that charges every libtorch operator's self
// time (its time less its children's) to a kind, and each kind's share of the wall time is a
// counter (percent). "outside" is time in no operator: the loops and glue of our own code.
//   BM_PpoUpdateProfile/WIDTH/SIDE/ENVS/STEPS/MINIBATCHES/DIRECT   (DIRECT: agent.conv = direct)
//   BM_PpoActingProfile/WIDTH/SIDE/ENVS/DIRECT
// Run: ./shardlab bench --benchmark_filter=Profile
#include <ATen/record_function.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <cstring>
#include <vector>

#include "agents/ppo.h"
#include "bench/maze_net.h"

namespace shardlab {
namespace {

enum Kind { kConvForward, kConvBackward, kDirect, kPool, kRelu, kAdd, kLinear, kOptimizer, kCopy, kOther, kKinds };
constexpr std::array<const char*, kKinds> kKindNames = {"conv_fwd%",   "conv_bwd%",  "direct_kernels%", "maxpool%",
                                                        "relu%",       "add%",       "linear%",         "optimizer%",
                                                        "copy_alloc%", "loss_other%"};

Kind kind_of(const char* name) {
  const auto has = [&](const char* part) { return std::strstr(name, part) != nullptr; };
  if (has("shardlab::impala_direct")) return kDirect;
  if (has("convolution_backward") || has("ConvolutionBackward")) return kConvBackward;
  if (has("conv")) return kConvForward;
  if (has("max_pool") || has("MaxPool")) return kPool;
  if (has("relu") || has("threshold")) return kRelu;
  if (has("addmm") || has("::mm") || has("linear") || std::strcmp(name, "aten::t") == 0 || has("AddmmBackward") ||
      has("MmBackward") || has("TBackward"))
    return kLinear;
  if (has("::add")) return kAdd;
  if (has("copy") || has("contiguous") || has("empty") || has("zeros") || has("clone") || has("::to") || has("fill_") ||
      has("zero_") || has("_to_copy"))
    return kCopy;
  return kOther;
}

// Self time per kind, on the benchmark's thread. Operators under the optimizer's scope count as
// optimizer time whatever their names.
struct Clock {
  struct Frame {
    std::chrono::steady_clock::time_point start;
    double children = 0;
    Kind kind = kOther;
  };
  std::vector<Frame> stack;
  std::array<double, kKinds> seconds{};
};
thread_local Clock* active = nullptr;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!active) return nullptr;
  Kind kind = kind_of(fn.name());
  if (std::strstr(fn.name(), "shardlab::optimizer_step")) kind = kOptimizer;
  for (const Clock::Frame& f : active->stack)
    if (f.kind == kOptimizer) kind = kOptimizer;
  active->stack.push_back({std::chrono::steady_clock::now(), 0, kind});
  return nullptr;
}

void on_end(const at::RecordFunction&, at::ObserverContext*) {
  if (!active || active->stack.empty()) return;
  const Clock::Frame f = active->stack.back();
  active->stack.pop_back();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - f.start).count();
  active->seconds[f.kind] += took - f.children;
  if (!active->stack.empty()) active->stack.back().children += took;
}

// Runs `step` under the observer and reports each kind's share of the wall time.
template <class Step>
void profile(benchmark::State& state, const Step& step) {
  Clock clock;
  const at::CallbackHandle handle =
      at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end).needsInputs(false));
  double wall = 0;
  for (auto _ : state) {
    active = &clock;
    const auto begin = std::chrono::steady_clock::now();
    step();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    active = nullptr;
  }
  at::removeCallback(handle);
  double inside = 0;
  for (int k = 0; k < kKinds; ++k) {
    state.counters[kKindNames[k]] = 100 * clock.seconds[k] / wall;
    inside += clock.seconds[k];
  }
  state.counters["outside%"] = 100 * (wall - inside) / wall;
}

// range: width, side, envs, steps, minibatches, direct.
void BM_PpoUpdateProfile(benchmark::State& state) {
  at::set_num_threads(1);
  ActorCritic net = maze_net(state.range(0), state.range(1), state.range(5) ? "direct" : "libtorch");
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(5e-4).eps(1e-5));
  const Rollout rollout = maze_rollout(state.range(2), state.range(3), state.range(1));
  TrainConfig train;
  PpoConfig ppo;
  ppo.num_minibatches = state.range(4);
  at::Generator gen = at::detail::createCPUGenerator(2);
  const Collective one_rank;
  profile(state, [&] { ppo_update(*net, optimizer, rollout, train, ppo, gen, at::kCPU, one_rank); });
}
BENCHMARK(BM_PpoUpdateProfile)
    ->Args({16, 15, 64, 64, 4, 0})
    ->Args({16, 15, 64, 64, 4, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// range: width, side, envs, direct.
void BM_PpoActingProfile(benchmark::State& state) {
  at::set_num_threads(1);
  ActorCritic net = maze_net(state.range(0), state.range(1), state.range(3) ? "direct" : "libtorch");
  at::Generator gen = at::detail::createCPUGenerator(3);
  const at::Tensor obs =
      (torch::rand({state.range(2), 3, state.range(1), state.range(1)}, gen) < 0.3).to(torch::kFloat32);
  torch::NoGradGuard no_grad;
  profile(state, [&] {
    const PolicyOutput out = net->forward(obs);
    benchmark::DoNotOptimize(sample_action(*net, out.logits_or_mean, gen).action);
  });
}
BENCHMARK(BM_PpoActingProfile)
    ->Args({16, 15, 64, 0})
    ->Args({16, 15, 64, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace shardlab
