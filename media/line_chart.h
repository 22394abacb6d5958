// Line charts as SVG, for training curves: panels stacked top to bottom that share one x axis
// quantity (each its own ticks), each with its title, axis titles and lines; a line may carry a
// band (a min-max or spread over runs) drawn under it. NaN points are gaps in a line and its band.
#pragma once

#include <string>
#include <vector>

namespace shardlab {

struct LineSeries {
  std::string name;  // the legend's text
  std::vector<double> x, y;
  std::vector<double> band_lo, band_hi;  // empty, or one per point
  std::string band_name;                 // the band's legend text
};

struct LinePanel {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;  // colours from svg::palette(), by index
};

struct LineChart {
  std::string title;
  std::vector<LinePanel> panels;
};

// Each line is one <path class='series'> and each band one <path class='band'> (a gap starts a
// new subpath). A legend is drawn beside a panel with more than one line or with a band.
std::string line_chart_svg(const LineChart& chart);

}  // namespace shardlab
