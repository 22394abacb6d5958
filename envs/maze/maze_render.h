// Drawing a maze state as an RGB image in Procgen's geometry: the whole world in a square
// image, image_size / world_size pixels per cell, flat colours, no antialiasing. Walls and
// cheese are drawn 0.02 cell larger on each side; the mouse fills its own cell, its head on
// the side it faces.
#pragma once

#include <cstdint>
#include <vector>

#include "envs/maze/maze_generator.h"

namespace shardlab::maze {

// What the picture shows besides the layout.
struct MouseState {
  Cell position;
  bool facing_left = false;
};

// Pixel geometry of one (world size, image size) pair; built once and reused.
class MazeRaster {
 public:
  MazeRaster(int world_size, int image_size);
  int world_size() const { return world_; }
  int image_size() const { return size_; }

  // Writes the whole image, channel-major (3, size, size), values in [0, 1].
  void draw(const MazeLayout& layout, const MouseState& mouse, float* out) const;
  // Redraws only the pixels of the given world cells (the mouse's old and new cell).
  void redraw_cells(const MazeLayout& layout, const MouseState& mouse, const Cell* cells, int count, float* out) const;

 private:
  void draw_pixel(const MazeLayout& layout, const MouseState& mouse, int px, int py, float* out) const;
  int world_, size_;
  // Per pixel column (and, mirrored, row from the top): the cell its centre lies in, and a
  // neighbour whose 0.02-cell border also covers it (-1 if none).
  std::vector<int> primary_, secondary_;
  // Per cell index along an axis: its first pixel and one past its last pixel.
  std::vector<int> first_pixel_, end_pixel_;
  // Per pixel column: whether the pixel lies in the right half of its cell (the head's side).
  std::vector<uint8_t> right_half_;
};

}  // namespace shardlab::maze
