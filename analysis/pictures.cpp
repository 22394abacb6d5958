#include "analysis/pictures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "core/error.h"

namespace shardlab::analysis {

Canvas::Canvas(int width, int height, Rgb background)
    : width_(width), height_(height), pixels_(static_cast<size_t>(3) * width * height) {
  fill_rect(0, 0, width, height, background);
}

void Canvas::put(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t plane = static_cast<size_t>(width_) * height_;
  const size_t i = static_cast<size_t>(y) * width_ + x;
  pixels_[i] = c.r;
  pixels_[plane + i] = c.g;
  pixels_[2 * plane + i] = c.b;
}

void Canvas::fill_rect(int x0, int y0, int w, int h, Rgb color) {
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) put(x, y, color);
}

void Canvas::blend_rect(int x0, int y0, int w, int h, Rgb color, float alpha) {
  const size_t plane = static_cast<size_t>(width_) * height_;
  for (int y = std::max(0, y0); y < std::min(height_, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min(width_, x0 + w); ++x) {
      const size_t i = static_cast<size_t>(y) * width_ + x;
      pixels_[i] = (1 - alpha) * pixels_[i] + alpha * color.r;
      pixels_[plane + i] = (1 - alpha) * pixels_[plane + i] + alpha * color.g;
      pixels_[2 * plane + i] = (1 - alpha) * pixels_[2 * plane + i] + alpha * color.b;
    }
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb color, int thickness) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  const int steps = std::max(1, static_cast<int>(std::ceil(len * 2)));
  const int r = thickness / 2;
  for (int s = 0; s <= steps; ++s) {
    const double t = static_cast<double>(s) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) put(x + dx, y + dy, color);
  }
}

FigurePanel Canvas::panel(std::string caption) const { return {width_, height_, pixels_, std::move(caption)}; }

namespace {
// draw_maze's colours, also named by maze_legend and blended under diverging_scale's colours.
const Rgb kWall{0.25f, 0.25f, 0.3f}, kFreeCell{0.93f, 0.93f, 0.9f}, kCheese{1.0f, 0.8f, 0.1f},
    kMouse{0.45f, 0.45f, 0.45f};

std::string hex(Rgb c) { return hex_color(c.r, c.g, c.b); }

std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}
}  // namespace

void draw_maze(Canvas& canvas, const maze::MazeLayout& layout, int x0, int y0, int cell, maze::Cell mouse) {
  const int w = layout.world_size;
  for (int y = 0; y < w; ++y)
    for (int x = 0; x < w; ++x) {
      const int px = x0 + x * cell, py = y0 + (w - 1 - y) * cell;
      canvas.fill_rect(px, py, cell, cell, layout.is_wall({x, y}) ? kWall : kFreeCell);
    }
  if (layout.has_cheese()) {
    const int inset = cell / 5;
    canvas.fill_rect(x0 + layout.cheese.x * cell + inset, y0 + (w - 1 - layout.cheese.y) * cell + inset,
                     cell - 2 * inset, cell - 2 * inset, kCheese);
  }
  if (mouse.valid()) {
    const int inset = cell / 3;
    canvas.fill_rect(x0 + mouse.x * cell + inset, y0 + (w - 1 - mouse.y) * cell + inset, cell - 2 * inset,
                     cell - 2 * inset, kMouse);
  }
}

Rgb diverging_color(double v) {
  const float t = static_cast<float>(std::clamp(v, -1.0, 1.0));
  if (t >= 0) return {1.0f, 1.0f - t, 1.0f - t};
  return {1.0f + t, 1.0f + t, 1.0f};
}

ColorScale diverging_scale(const std::string& label, double lo, double hi, double max_abs, float alpha,
                           const std::vector<std::string>& tick_texts) {
  ColorScale s;
  s.label = label;
  s.lo = lo;
  s.hi = hi;
  const int samples = 21;
  for (int i = 0; i < samples; ++i) {
    const Rgb c = diverging_color((lo + (hi - lo) * i / (samples - 1)) / max_abs);
    s.colors.push_back(hex({(1 - alpha) * kFreeCell.r + alpha * c.r, (1 - alpha) * kFreeCell.g + alpha * c.g,
                            (1 - alpha) * kFreeCell.b + alpha * c.b}));
  }
  std::vector<double> at = {lo};
  if (lo < 0 && hi > 0) at.push_back(0);
  at.push_back(hi);
  if (!tick_texts.empty() && tick_texts.size() != at.size())
    throw Error("diverging_scale: " + std::to_string(tick_texts.size()) + " tick texts for " +
                std::to_string(at.size()) + " ticks");
  for (size_t i = 0; i < at.size(); ++i)
    s.ticks.push_back({at[i], tick_texts.empty() ? number_text(at[i]) : tick_texts[i]});
  return s;
}

std::vector<svg::LegendEntry> maze_legend(bool cheese, bool mouse) {
  std::vector<svg::LegendEntry> entries = {{"wall", hex(kWall)}};
  if (cheese) entries.push_back({"cheese", hex(kCheese)});
  if (mouse) entries.push_back({"mouse", hex(kMouse)});
  return entries;
}

}  // namespace shardlab::analysis
