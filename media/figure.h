// Figures: raster panels (mazes, heatmaps, vector fields) laid out in a grid with their words as
// SVG text around them: a title and notes, a caption under each panel, row and column labels, a
// colour scale with its numbers and a legend. Each panel is embedded as a PNG
// (`<image href="data:image/png;base64,...">`, drawn pixelated so cells stay crisp), so the
// picture is one file, its words stay sharp and searchable, and no font is needed to draw them.
#pragma once

#include <string>
#include <vector>

#include "media/svg.h"

namespace shardlab {

// One raster: channel-major (3, height, width) floats in [0, 1], and the words under it.
struct FigurePanel {
  int width = 0, height = 0;
  std::vector<float> chw;
  std::string caption;
};

// A colour bar: `colors` evenly spaced from `lo` (bottom) to `hi` (top), blended between, with a
// label over it and labelled ticks beside it.
struct ColorScale {
  std::string label;
  double lo = 0, hi = 1;
  std::vector<std::string> colors;  // "#rrggbb", at least two
  struct Tick {
    double value;
    std::string text;
  };
  std::vector<Tick> ticks;
};

struct Figure {
  std::string title;
  std::vector<std::string> notes;  // smaller lines under the title
  // Panels fill a grid row by row, `columns` wide; each grid cell is as large as the largest panel.
  std::vector<FigurePanel> panels;
  int columns = 1;
  std::vector<std::string> column_labels;  // over the columns (empty: none)
  std::vector<std::string> row_labels;     // left of the rows (empty: none)
  std::vector<ColorScale> scales;          // at most one is usual; drawn right of the grid
  std::vector<svg::LegendEntry> legend;    // under the grid
};

// The figure as an SVG document. InputError if a panel's pixels do not match its size.
std::string figure_svg(const Figure& figure);

// InputError naming `what` (a flag or a file) unless `path` ends in ".svg".
void check_svg_path(const std::string& path, const std::string& what);

// figure_svg written to `path` (which must end in .svg) through AtomicFile: a failure leaves no
// partial file. Throws InputError or FileError.
void write_figure(const std::string& path, const Figure& figure);

// The colour as "#rrggbb" from components in [0, 1] (clamped).
std::string hex_color(float r, float g, float b);

// Standard base64 (RFC 4648, with '=' padding) of `bytes`.
std::string base64(const std::string& bytes);

}  // namespace shardlab
