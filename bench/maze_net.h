// The maze network the training benchmarks time: IMPALA widths width/2, width, width (16: the
// demo's 8/16/16, 32: CleanRL's 16/32/32, 128: the published 64/128/128), hidden 256, Procgen's 15
// actions, on 3 x side x side observations, initialised from a fixed seed; its convolutions are
// shardlab's direct kernels unless `conv` says libtorch (agent.conv). maze_rollout: a synthetic
// rollout of such observations for the update benchmarks.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "agents/actor_critic.h"
#include "agents/rollout.h"

namespace shardlab {

inline NetworkConfig maze_net_config(int64_t width) {
  NetworkConfig config;
  config.channels = {width / 2, width, width};
  config.hidden = 256;
  return config;
}

inline constexpr int64_t kMazeNetActions = 15;

// Floating-point operations of one sample's forward pass through the IMPALA actor-critic on
// 3 x side x side grids with `actions` policy outputs (multiply and add counted apart): each
// stage's 3x3 convolution, max-pool to half the side, two residual blocks of two 3x3
// convolutions; then the fc layer and the two heads. Pooling, ReLUs and additions are left out
// (under 1%). A backward pass costs two forward passes (the gradients of the inputs and of the
// weights), so forward + backward is 3x this.
inline double maze_forward_flops(const NetworkConfig& c, int64_t side, int64_t actions = kMazeNetActions) {
  double flops = 0;
  int64_t in = 3, h = side;
  for (int64_t out : c.channels) {
    flops += 2.0 * 9 * static_cast<double>(in * out * h * h);
    h = (h + 1) / 2;
    flops += 4 * 2.0 * 9 * static_cast<double>(out * out * h * h);
    in = out;
  }
  flops += 2.0 * static_cast<double>(in * h * h * c.hidden);
  flops += 2.0 * static_cast<double>(c.hidden * (actions + 1));
  return flops;
}

// The first convolution's share of maze_forward_flops: a backward pass skips its input gradient
// (the observations need none).
inline double maze_first_conv_flops(const NetworkConfig& c, int64_t side) {
  return 2.0 * 9 * static_cast<double>(3 * c.channels.front() * side * side);
}

// A rollout of one-hot-like grids (the maze's three planes) with random actions and returns.
inline Rollout maze_rollout(int64_t envs, int64_t steps, int64_t side) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  Rollout r;
  r.obs = (torch::rand({steps, envs, 3, side, side}, gen, f32) < 0.3).to(torch::kFloat32);
  r.actions = torch::randint(kMazeNetActions, {steps, envs}, gen, torch::kInt64);
  r.log_probs = torch::full({steps, envs}, -std::log(static_cast<double>(kMazeNetActions)), f32);
  r.values = torch::rand({steps, envs}, gen, f32);
  r.rewards = (torch::rand({steps, envs}, gen, f32) < 0.01).to(torch::kFloat32);
  r.terminated = r.rewards.clone();
  r.truncated = torch::zeros({steps, envs}, f32);
  r.final_values = torch::zeros({steps, envs}, f32);
  r.next_value = torch::zeros({envs}, f32);
  return r;
}

inline ActorCritic maze_net(int64_t width, int64_t side, const std::string& conv = "direct") {
  ObservationSpec obs;
  obs.shape = {3, side, side};
  ActionSpec act;
  act.num_actions = kMazeNetActions;
  at::Generator init = at::detail::createCPUGenerator(0);
  NetworkConfig config = maze_net_config(width);
  config.conv = conv;
  return ActorCritic(config, obs, act, init);
}

}  // namespace shardlab
