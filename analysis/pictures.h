// Pictures of the studies: mazes drawn cell by cell, with heatmaps (channel activations,
// success over targets) and arrows (vector fields) on top. Each Canvas becomes one panel of an
// SVG figure (media/figure.h), which adds the words: title, captions, colour scale, legend.
#pragma once

#include <string>
#include <vector>

#include "envs/maze/maze_generator.h"
#include "media/figure.h"

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
  // The pixels as a figure panel with `caption` under it.
  FigurePanel panel(std::string caption) const;

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

// The colour bar of heatmaps drawn with blend_rect(diverging_color(v / max_abs), alpha) over a
// free maze cell, for v from lo to hi, ticked at lo, zero (if inside) and hi; each tick's text is
// its value unless `tick_texts` gives one per tick.
ColorScale diverging_scale(const std::string& label, double lo, double hi, double max_abs, float alpha,
                           const std::vector<std::string>& tick_texts = {});

// The legend of draw_maze's colours: wall, and the cheese and the mouse if they are drawn.
std::vector<svg::LegendEntry> maze_legend(bool cheese, bool mouse);

// The pixel centre of a world cell drawn at (x0, y0) with `cell` pixels per cell.
inline double cell_center_x(const maze::MazeLayout& l, maze::Cell c, int x0, int cell) {
  return x0 + (c.x + 0.5) * cell;
}
inline double cell_center_y(const maze::MazeLayout& l, maze::Cell c, int y0, int cell) {
  return y0 + (l.world_size - 1 - c.y + 0.5) * cell;
}

}  // namespace shardlab::analysis
