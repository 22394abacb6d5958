#include "envs/frame.h"

#include "core/error.h"
#include "envs/box2d/box2d_draw.h"
#include "envs/maze/maze_env.h"

namespace shardlab {
namespace {

constexpr int kMinMazePixels = 360;  // Procgen's 64 x 64 shows a hard maze at 2.56 pixels per cell

}  // namespace

Frame draw_frame(const Env& env) {
  if (const auto* drawable = dynamic_cast<const box2d::Drawable*>(&env)) {
    const box2d::Scene scene = drawable->scene();
    return {scene.width, scene.height, box2d::rasterize(scene)};
  }
  if (const auto* maze_env = dynamic_cast<const maze::MazeEnv*>(&env)) {
    const int world = maze_env->layout().world_size;
    const int size = (kMinMazePixels + world - 1) / world * world;  // whole pixels per cell
    Frame frame{size, size, std::vector<float>(3 * static_cast<size_t>(size) * size)};
    maze::MazeRaster(world, size).draw(maze_env->layout(), maze_env->mouse(), frame.chw.data());
    return frame;
  }
  throw InputError("environment '" + env.name() + "' has no drawing");
}

}  // namespace shardlab
