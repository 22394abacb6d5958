// Pictures of the studies: mazes drawn cell by cell, with heatmaps (channel activations,
// success over targets) and arrows (vector fields) on top. Written as PNG.
#pragma once

#include <string>
#include <vector>

#include "envs/maze/maze_generator.h"

namespace shardlab::analysis {

struct Rgb {
  float r = 0, g = 0, b = 0;
};

// An RGB image, channel-major (3, height, width), values in [0, 1].
class Canvas {
 public:
  Canvas(int width, int height, Rgb background = {1, 1, 1});
  int width() const { return width_; }
  int height() const { return height_; }
  void fill_rect(int x0, int y0, int w, int h, Rgb color);
  // Blends `color` over the rectangle with weight alpha.
  void blend_rect(int x0, int y0, int w, int h, Rgb color, float alpha);
  void line(double x0, double y0, double x1, double y1, Rgb color, int thickness = 1);
  void write_png(const std::string& path) const;

 private:
  void put(int x, int y, Rgb c);
  int width_, height_;
  std::vector<float> pixels_;
};

// Draws a maze with its top-left at (x0, y0), `cell` pixels per world cell; the mouse (if valid)
// as a small grey square. Returns nothing; cells outside the maze are drawn as walls.
void draw_maze(Canvas& canvas, const maze::MazeLayout& layout, int x0, int y0, int cell, maze::Cell mouse = {});

// A diverging colour for v in [-1, 1]: blue (negative), white (0), red (positive).
Rgb diverging_color(double v);

// The pixel centre of a world cell drawn at (x0, y0) with `cell` pixels per cell.
inline double cell_center_x(const maze::MazeLayout& l, maze::Cell c, int x0, int cell) {
  return x0 + (c.x + 0.5) * cell;
}
inline double cell_center_y(const maze::MazeLayout& l, maze::Cell c, int y0, int cell) {
  return y0 + (l.world_size - 1 - c.y + 0.5) * cell;
}

}  // namespace shardlab::analysis
