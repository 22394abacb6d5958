#include "media/bar_chart.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/statistics.h"
#include "media/svg.h"

namespace shardlab {

std::string bar_chart_svg(const BarChart& chart) {
  const int bar = 18, gap = 30, left = 70, top = 40, height = 300;
  int legend = 0;
  for (const auto& s : chart.series) legend = std::max(legend, svg::text_width(s) + 40);
  double lo = std::min({chart.y_min, chart.y_max, 0.0}), hi = std::max({chart.y_min, chart.y_max, 0.0});
  int longest_group = 0;
  for (const auto& g : chart.groups) longest_group = std::max(longest_group, svg::text_width(g));
  for (const auto& [key, v] : chart.samples) {
    const double m = finite_mean(v), half = t_interval95(v);
    if (std::isfinite(m)) lo = std::min(lo, m - half), hi = std::max(hi, m + half);
  }
  const svg::Scale y = svg::round_scale(lo, hi, top + height, top);
  const int group = std::max({static_cast<int>(chart.series.size()) * bar + gap, longest_group + 10, 90});
  const int plot_right = left + static_cast<int>(chart.groups.size()) * group;
  const int width = std::max(plot_right + 20 + legend, left + static_cast<int>(chart.title.size() * 7.8) + 20);
  const std::vector<std::string>& colors = chart.colors.empty() ? svg::palette() : chart.colors;
  std::ostringstream out;
  svg::begin(out, width, top + height + 60, chart.title, left);
  svg::y_ticks(out, y, left, plot_right);
  svg::axis_titles(out, chart.x_label, chart.y_label, left, plot_right, top, top + height);
  for (size_t r = 0; r < chart.groups.size(); ++r) {
    const int x0 = left + static_cast<int>(r) * group;
    const int bars_left = x0 + (group - static_cast<int>(chart.series.size()) * bar) / 2;
    for (size_t c = 0; c < chart.series.size(); ++c) {
      const auto it = chart.samples.find({chart.groups[r], chart.series[c]});
      if (it == chart.samples.end()) continue;
      const double m = finite_mean(it->second);
      if (!std::isfinite(m)) continue;
      const double half = t_interval95(it->second);
      const int x = bars_left + static_cast<int>(c) * bar;
      const double top_y = std::min(y.at(m), y.at(0)), h = std::abs(y.at(m) - y.at(0));
      out << "<rect x='" << x << "' y='" << top_y << "' width='" << bar - 2 << "' height='" << h << "' fill='"
          << colors[c % colors.size()] << "'/>\n";
      if (half > 0)
        out << "<line x1='" << x + bar / 2 - 1 << "' x2='" << x + bar / 2 - 1 << "' y1='" << y.at(m - half) << "' y2='"
            << y.at(m + half) << "' stroke='black'/>\n";
    }
    out << "<text x='" << x0 + group / 2 << "' y='" << top + height + 15 << "' text-anchor='middle'>"
        << svg::escaped(chart.groups[r]) << "</text>\n";
  }
  std::vector<svg::LegendEntry> entries;
  for (size_t c = 0; c < chart.series.size(); ++c) entries.push_back({chart.series[c], colors[c % colors.size()]});
  svg::legend(out, entries, plot_right + 20, top);
  out << "</svg>\n";
  return out.str();
}

}  // namespace shardlab
