// A picture of any environment's current state, for `shardlab render` (PNG frames, GIF videos):
// the Box2D tasks draw their scene (600 x 400), the maze its RGB observation's drawing at a size
// a person can read (at least 360 pixels a side), mouse and cheese included.
#pragma once

#include <vector>

#include "envs/env.h"

namespace shardlab {

struct Frame {
  int width = 0, height = 0;
  std::vector<float> chw;  // (3, height, width) in [0, 1], row 0 at the top
};

// InputError naming the environment if it has no drawing.
Frame draw_frame(const Env& env);

}  // namespace shardlab
