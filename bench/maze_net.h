// The maze network the training benchmarks time: IMPALA widths width/2, width, width (16: the
// demo's 8/16/16, 32: CleanRL's 16/32/32, 128: the published 64/128/128), hidden 256, Procgen's 15
// actions, on 3 x side x side observations, initialised from a fixed seed.
#pragma once

#include "agents/actor_critic.h"

namespace shardlab {

inline NetworkConfig maze_net_config(int64_t width) {
  NetworkConfig config;
  config.channels = {width / 2, width, width};
  config.hidden = 256;
  return config;
}

inline constexpr int64_t kMazeNetActions = 15;

inline ActorCritic maze_net(int64_t width, int64_t side) {
  ObservationSpec obs;
  obs.shape = {3, side, side};
  ActionSpec act;
  act.num_actions = kMazeNetActions;
  at::Generator init = at::detail::createCPUGenerator(0);
  return ActorCritic(maze_net_config(width), obs, act, init);
}

}  // namespace shardlab
