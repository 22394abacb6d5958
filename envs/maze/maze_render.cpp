#include "envs/maze/maze_render.h"

#include <cmath>

namespace shardlab::maze {
namespace {

// Flat colours (RGB in [0, 1]). Procgen draws textured sprites; a flat colour per object keeps
// every object and the mouse's facing visible at 2.56 pixels per cell.
constexpr float kBackground[3] = {0.87f, 0.80f, 0.65f};
constexpr float kWall[3] = {0.22f, 0.25f, 0.30f};
constexpr float kCheese[3] = {1.00f, 0.84f, 0.10f};
constexpr float kMouseBody[3] = {0.50f, 0.40f, 0.36f};
constexpr float kMouseHead[3] = {0.93f, 0.62f, 0.64f};

// Walls and cheese are drawn this much (in cells) larger on each side, as Procgen does.
constexpr double kOverdraw = 0.02;

}  // namespace

MazeRaster::MazeRaster(int world_size, int image_size)
    : world_(world_size),
      size_(image_size),
      primary_(image_size),
      secondary_(image_size, -1),
      first_pixel_(world_size, image_size),
      end_pixel_(world_size, 0),
      right_half_(image_size) {
  for (int p = 0; p < image_size; ++p) {
    const double u = (p + 0.5) * world_size / image_size;  // pixel centre in cells
    const int cell = std::min(world_size - 1, static_cast<int>(std::floor(u)));
    const double frac = u - cell;
    primary_[p] = cell;
    if (frac < kOverdraw && cell > 0) secondary_[p] = cell - 1;
    if (1.0 - frac < kOverdraw && cell < world_size - 1) secondary_[p] = cell + 1;
    right_half_[p] = frac >= 0.5;
    first_pixel_[cell] = std::min(first_pixel_[cell], p);
    end_pixel_[cell] = std::max(end_pixel_[cell], p + 1);
  }
}

void MazeRaster::draw_pixel(const MazeLayout& layout, const MouseState& mouse, int px, int py, float* out) const {
  const int x = primary_[px];
  const int y = world_ - 1 - primary_[py];  // pixel rows count from the top, cells from the bottom
  const float* colour = kBackground;
  if (mouse.position == Cell{x, y}) {
    colour = (right_half_[px] != 0) != mouse.facing_left ? kMouseHead : kMouseBody;
  } else {
    const int xs[2] = {x, secondary_[px]};
    const int ys[2] = {y, secondary_[py] < 0 ? -1 : world_ - 1 - secondary_[py]};
    bool cheese = false, wall = false;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        if (xs[i] < 0 || ys[j] < 0) continue;
        const Cell c{xs[i], ys[j]};
        cheese = cheese || c == layout.cheese;
        wall = wall || layout.is_wall(c);
      }
    colour = cheese ? kCheese : wall ? kWall : kBackground;
  }
  const size_t plane = static_cast<size_t>(size_) * size_;
  const size_t at = static_cast<size_t>(py) * size_ + px;
  out[at] = colour[0];
  out[plane + at] = colour[1];
  out[2 * plane + at] = colour[2];
}

void MazeRaster::draw(const MazeLayout& layout, const MouseState& mouse, float* out) const {
  for (int py = 0; py < size_; ++py)
    for (int px = 0; px < size_; ++px) draw_pixel(layout, mouse, px, py, out);
}

void MazeRaster::redraw_cells(const MazeLayout& layout, const MouseState& mouse, const Cell* cells, int count,
                              float* out) const {
  for (int i = 0; i < count; ++i) {
    const int top_row = world_ - 1 - cells[i].y;
    for (int py = first_pixel_[top_row]; py < end_pixel_[top_row]; ++py)
      for (int px = first_pixel_[cells[i].x]; px < end_pixel_[cells[i].x]; ++px) draw_pixel(layout, mouse, px, py, out);
  }
}

}  // namespace shardlab::maze
