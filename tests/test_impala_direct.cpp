// The IMPALA torso's direct convolutions (agents/impala_direct.h) against libtorch's path on the
// same weights: features, every convolution's weight and bias gradient, ties in the max-pooling,
// batches that do not fill a block, and the same numbers from run to run at a thread count.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "agents/actor_critic.h"
#include "agents/impala_direct.h"
#include "agents/impala_kernels.h"

namespace shardlab {
namespace {

ActorCritic network(const std::vector<int64_t>& channels, int64_t height, int64_t width, const std::string& conv) {
  NetworkConfig config;
  config.channels = channels;
  config.hidden = 32;
  config.conv = conv;
  ObservationSpec obs;
  obs.shape = {3, height, width};
  ActionSpec act;
  act.num_actions = 5;
  at::Generator init = at::detail::createCPUGenerator(7);
  return ActorCritic(config, obs, act, init);
}

// Largest |a - b| over the largest |b| (at least 1e-3).
double max_relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-3);
}

struct Pass {
  at::Tensor logits, value;
  std::vector<at::Tensor> grads;  // every parameter's, in named_parameters order
};

// A random linear function of both heads.
at::Tensor random_loss(const PolicyOutput& out, int64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return (out.logits_or_mean * torch::randn(out.logits_or_mean.sizes(), gen)).sum() +
         (out.value * torch::randn(out.value.sizes(), gen)).sum();
}

// The gradient of random_loss, after `out`'s forward (its backward not run yet).
Pass backward(ActorCritic& net, const PolicyOutput& out, int64_t seed) {
  for (auto& p : net->parameters()) p.mutable_grad() = at::Tensor();
  random_loss(out, seed).backward();
  Pass pass{out.logits_or_mean.detach(), out.value.detach(), {}};
  for (auto& p : net->named_parameters()) pass.grads.push_back(p.value().grad().clone());
  return pass;
}

// A forward pass and the gradient of a random linear function of both heads.
Pass run(ActorCritic& net, const at::Tensor& obs, int64_t seed) { return backward(net, net->forward(obs), seed); }

void expect_same_as_libtorch(const std::vector<int64_t>& channels, int64_t height, int64_t width, int64_t batch) {
  at::set_num_threads(1);
  ActorCritic direct = network(channels, height, width, "direct");
  ActorCritic reference = network(channels, height, width, "libtorch");
  at::Generator gen = at::detail::createCPUGenerator(3);
  // Grids of 0/1 planes as the maze's, so max-pooling windows hold ties (the first maximum wins).
  const at::Tensor obs = (torch::rand({batch, 3, height, width}, gen) < 0.3).to(torch::kFloat32);
  const Pass a = run(direct, obs, 11), b = run(reference, obs, 11);
  EXPECT_LT(max_relative_error(a.logits, b.logits), 1e-5);
  EXPECT_LT(max_relative_error(a.value, b.value), 1e-5);
  const auto names = direct->named_parameters();
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i)
    EXPECT_LT(max_relative_error(a.grads[i], b.grads[i]), 1e-4) << names[i].key();
}

TEST(ImpalaDirect, DemoNetworkMatchesLibtorchInValuesAndEveryGradient) {
  // Each build of the kernels this CPU can run (AVX-512, AVX2, plain SSE2).
  for (const auto isa : {impala_kernels::Isa::avx512, impala_kernels::Isa::avx2, impala_kernels::Isa::generic}) {
    if (!impala_kernels::isa_supported(isa)) continue;
    SCOPED_TRACE("kernels " + std::to_string(static_cast<int>(isa)));
    impala_kernels::select_isa(isa);
    expect_same_as_libtorch({8, 16, 16}, 15, 15, 37);  // 37: the last block holds 5 samples
  }
  impala_kernels::select_isa(impala_kernels::Isa::best);
}

TEST(ImpalaDirect, WiderNetworkOnRectangularObservationsMatchesLibtorch) {
  expect_same_as_libtorch({16, 32, 32}, 9, 13, 16);
  expect_same_as_libtorch({4, 6}, 7, 5, 3);
}

TEST(ImpalaDirect, ATamperedGradientIsCaught) {
  // The comparison above can fail: one weight changed by 0.1 on one side moves the outputs past its bound.
  at::set_num_threads(1);
  ActorCritic direct = network({8, 16, 16}, 15, 15, "direct");
  ActorCritic reference = network({8, 16, 16}, 15, 15, "libtorch");
  {
    torch::NoGradGuard no_grad;
    direct->named_parameters()["embedder.block2.res1.conv2.weight"][0][3][1][2] += 0.1;
  }
  const at::Tensor obs = torch::ones({16, 3, 15, 15});
  const Pass a = run(direct, obs, 1), b = run(reference, obs, 1);
  EXPECT_GT(max_relative_error(a.logits, b.logits) + max_relative_error(a.grads[0], b.grads[0]), 1e-5);
}

TEST(ImpalaDirect, SameNumbersFromRunToRunAtEachThreadCount) {
  ActorCritic net = network({8, 16, 16}, 15, 15, "direct");
  const at::Tensor obs = (torch::rand({70, 3, 15, 15}) < 0.3).to(torch::kFloat32);
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    const Pass a = run(net, obs, 5), b = run(net, obs, 5);
    EXPECT_TRUE(torch::equal(a.logits, b.logits));
    for (size_t i = 0; i < a.grads.size(); ++i) EXPECT_TRUE(torch::equal(a.grads[i], b.grads[i]));
  }
  at::set_num_threads(1);
}

TEST(ImpalaDirect, EachForwardKeepsItsOwnActivationsUntilItsBackward) {
  // A forward keeps its saved activations until its backward: here a second forward with gradients
  // and one without come between the first forward and its backward, then a smaller batch, and
  // every gradient stays what it is alone (a buffer shared between forwards would break this).
  at::set_num_threads(1);
  ActorCritic net = network({8, 16, 16}, 15, 15, "direct");
  at::Generator gen = at::detail::createCPUGenerator(9);
  const at::Tensor first = (torch::rand({40, 3, 15, 15}, gen) < 0.3).to(torch::kFloat32);
  const at::Tensor second = (torch::rand({40, 3, 15, 15}, gen) < 0.3).to(torch::kFloat32);
  const Pass alone = run(net, first, 4), second_alone = run(net, second, 6);
  const PolicyOutput out_first = net->forward(first), out_second = net->forward(second);
  {
    torch::NoGradGuard no_grad;
    net->forward(second);
  }
  const Pass interleaved = backward(net, out_first, 4), interleaved_second = backward(net, out_second, 6);
  ActorCritic reference = network({8, 16, 16}, 15, 15, "libtorch");  // the same weights
  const Pass smaller = run(net, first.narrow(0, 0, 20), 4),
             smaller_reference = run(reference, first.narrow(0, 0, 20), 4);
  ASSERT_EQ(alone.grads.size(), interleaved.grads.size());
  EXPECT_TRUE(torch::equal(alone.logits, interleaved.logits));
  for (size_t i = 0; i < alone.grads.size(); ++i) {
    EXPECT_TRUE(torch::equal(alone.grads[i], interleaved.grads[i])) << i;
    EXPECT_TRUE(torch::equal(second_alone.grads[i], interleaved_second.grads[i])) << i;
    EXPECT_LT(max_relative_error(smaller.grads[i], smaller_reference.grads[i]), 1e-4) << i;
  }
}

TEST(ImpalaDirect, AWeightGradientOverSeveralBlocksHasTheBitsOfOneBlockAtATime) {
  // The backward of the small stages passes four blocks to one weight-gradient call; its sums must
  // take the blocks in order, as calls of one block each do (every build the CPU runs, each plane
  // side of the demo's network, a number of output channels the tile does not divide).
  at::Generator gen = at::detail::createCPUGenerator(11);
  for (impala_kernels::Isa isa :
       {impala_kernels::Isa::avx512, impala_kernels::Isa::avx2, impala_kernels::Isa::generic}) {
    if (!impala_kernels::isa_supported(isa)) continue;
    impala_kernels::select_isa(isa);
    for (int64_t side : {2, 4, 8, 15}) {
      const int64_t ins = 3, outs = 5, blocks = 3;
      const impala_kernels::Plane in_shape{nullptr, ins, side, side}, g_shape{nullptr, outs, side, side};
      const at::Tensor in = torch::randn({blocks, in_shape.size()}, gen),
                       g = torch::randn({blocks, g_shape.size()}, gen);
      std::vector<impala_kernels::Plane> in_planes, g_planes;
      for (int64_t b = 0; b < blocks; ++b) {
        in_planes.push_back({in[b].data_ptr<float>(), ins, side, side});
        g_planes.push_back({g[b].data_ptr<float>(), outs, side, side});
      }
      const int64_t weight_floats = outs * ins * 9 * impala_kernels::kLanes,
                    bias_floats = outs * impala_kernels::kLanes;
      const at::Tensor start = torch::randn({weight_floats + bias_floats}, gen);
      at::Tensor together = start.clone(), one_by_one = start.clone();
      impala_kernels::conv3x3_weight_grad(in_planes.data(), g_planes.data(), blocks, together.data_ptr<float>(),
                                          together.data_ptr<float>() + weight_floats);
      for (int64_t b = 0; b < blocks; ++b)
        impala_kernels::conv3x3_weight_grad(&in_planes[b], &g_planes[b], 1, one_by_one.data_ptr<float>(),
                                            one_by_one.data_ptr<float>() + weight_floats);
      EXPECT_TRUE(torch::equal(together, one_by_one)) << "side " << side;
      EXPECT_FALSE(torch::equal(together, start));
    }
  }
  impala_kernels::select_isa(impala_kernels::Isa::best);
}

TEST(ImpalaDirect, ObservationsThatAskForAGradientGetLibtorchsPath) {
  ActorCritic direct = network({8, 16, 16}, 15, 15, "direct");
  ActorCritic reference = network({8, 16, 16}, 15, 15, "libtorch");
  const at::Tensor obs = torch::rand({4, 3, 15, 15});
  at::Tensor grads[2];
  for (int i = 0; i < 2; ++i) {
    const at::Tensor x = obs.clone().requires_grad_(true);
    (i == 0 ? direct : reference)->forward(x).value.sum().backward();
    grads[i] = x.grad();
  }
  ASSERT_TRUE(grads[0].defined());
  EXPECT_TRUE(torch::allclose(grads[0], grads[1]));
}

TEST(ImpalaDirect, ANaNInAnObservationReachesItsOutputsAsInLibtorch) {
  // libtorch's ReLU and max-pooling pass a NaN on; kernels that dropped it would hide a broken
  // input from the non-finite-loss check (OfflineLearners.NonFiniteInputsThrowNonFiniteLoss).
  for (const auto isa : {impala_kernels::Isa::avx512, impala_kernels::Isa::avx2, impala_kernels::Isa::generic}) {
    if (!impala_kernels::isa_supported(isa)) continue;
    SCOPED_TRACE("kernels " + std::to_string(static_cast<int>(isa)));
    impala_kernels::select_isa(isa);
    ActorCritic direct = network({8, 16, 16}, 15, 15, "direct");
    ActorCritic reference = network({8, 16, 16}, 15, 15, "libtorch");
    at::Tensor obs = (torch::rand({20, 3, 15, 15}) < 0.3).to(torch::kFloat32);
    obs[3][1][7][7] = std::nan("");
    const Pass a = run(direct, obs, 2), b = run(reference, obs, 2);
    EXPECT_TRUE(torch::equal(a.logits.isnan(), b.logits.isnan()));
    EXPECT_TRUE(a.logits[3].isnan().all().item<bool>());
    EXPECT_FALSE(a.logits[4].isnan().any().item<bool>());
    EXPECT_TRUE(a.grads[0].isnan().any().item<bool>());  // the first conv's weight gradient sees it
  }
  impala_kernels::select_isa(impala_kernels::Isa::best);
}

TEST(ImpalaDirect, WithoutGradModeItOnlyComputesFeatures) {
  ActorCritic net = network({8, 16, 16}, 15, 15, "direct");
  torch::NoGradGuard no_grad;
  const PolicyOutput out = net->forward(torch::zeros({3, 3, 15, 15}));
  EXPECT_FALSE(out.logits_or_mean.requires_grad());
  EXPECT_EQ(out.logits_or_mean.size(0), 3);
}

}  // namespace
}  // namespace shardlab
