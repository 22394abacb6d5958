// Grouped bar charts as SVG (text a browser renders, so labels stay sharp): one group of bars per
// row of a results table, one bar per series, each the mean of its samples (one per seed) with
// the Student-t 95% interval as a whisker. Used by the ablation grid and sweep summaries.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace shardlab {

struct BarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> groups;  // along the x axis, in this order
  std::vector<std::string> series;  // bars within a group, and the legend
  std::vector<std::string> colors;  // per series (cycled); empty: a default palette
  // (group, series) -> samples; non-finite samples are left out, a pair with none draws no bar.
  std::map<std::pair<std::string, std::string>, std::vector<double>> samples;
  // The y axis always shows [y_min, y_max] (and zero, where bars start), widened to fit the data.
  double y_min = 0, y_max = 0;
};

std::string bar_chart_svg(const BarChart& chart);

}  // namespace shardlab
