#include "core/bar_chart.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/statistics.h"

namespace shardlab {
namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '\'')
      out += "&apos;";
    else
      out += c;
  }
  return out;
}

// A tick spacing of 1, 2, 2.5 or 5 times a power of ten giving about four intervals over `range`.
double tick_step(double range) {
  const double raw = range / 4;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

}  // namespace

std::string bar_chart_svg(const BarChart& chart) {
  const int bar = 18, gap = 30, left = 70, top = 40, height = 300;
  const double char_width = 6.2;  // of the 11px sans-serif labels, for the room text needs
  size_t longest_series = 0;
  for (const auto& s : chart.series) longest_series = std::max(longest_series, s.size());
  const int legend = static_cast<int>(longest_series * char_width) + 40;
  double lo = std::min({chart.y_min, chart.y_max, 0.0}), hi = std::max({chart.y_min, chart.y_max, 0.0});
  size_t longest_group = 0;
  for (const auto& g : chart.groups) longest_group = std::max(longest_group, g.size());
  for (const auto& [key, v] : chart.samples) {
    const double m = finite_mean(v), half = t_interval95(v);
    if (std::isfinite(m)) lo = std::min(lo, m - half), hi = std::max(hi, m + half);
  }
  if (hi - lo <= 0) hi = lo + 1;
  const double step = tick_step(hi - lo);
  lo = std::floor(lo / step) * step, hi = std::ceil(hi / step) * step;
  const int group = std::max(
      {static_cast<int>(chart.series.size()) * bar + gap, static_cast<int>(longest_group * char_width) + 10, 90});
  const int plot_right = left + static_cast<int>(chart.groups.size()) * group;
  const int width = std::max(plot_right + 20 + legend, left + static_cast<int>(chart.title.size() * 7.8) + 20);
  auto y_of = [&](double v) { return top + height - (v - lo) / (hi - lo) * height; };
  static const std::vector<std::string> palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  const std::vector<std::string>& colors = chart.colors.empty() ? palette : chart.colors;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << top + height + 60
      << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << left << "' y='20' font-size='14'>" << escaped(chart.title) << "</text>\n";
  for (int i = 0; lo + i * step <= hi + step * 1e-9; ++i) {
    const double t = lo + i * step;
    svg << "<line x1='" << left << "' x2='" << plot_right << "' y1='" << y_of(t) << "' y2='" << y_of(t) << "' stroke='"
        << (std::abs(t) < step * 1e-9 ? "#888" : "#ddd") << "'/><text x='" << left - 5 << "' y='" << y_of(t) + 4
        << "' text-anchor='end'>" << (std::abs(t) < step * 1e-9 ? 0.0 : t) << "</text>\n";
  }
  svg << "<text transform='translate(15," << top + height / 2 << ") rotate(-90)' text-anchor='middle'>"
      << escaped(chart.y_label) << "</text>\n";
  svg << "<text x='" << (left + plot_right) / 2 << "' y='" << top + height + 45 << "' text-anchor='middle'>"
      << escaped(chart.x_label) << "</text>\n";
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
      const double y = std::min(y_of(m), y_of(0)), h = std::abs(y_of(m) - y_of(0));
      svg << "<rect x='" << x << "' y='" << y << "' width='" << bar - 2 << "' height='" << h << "' fill='"
          << colors[c % colors.size()] << "'/>\n";
      if (half > 0)
        svg << "<line x1='" << x + bar / 2 - 1 << "' x2='" << x + bar / 2 - 1 << "' y1='" << y_of(m - half) << "' y2='"
            << y_of(m + half) << "' stroke='black'/>\n";
    }
    svg << "<text x='" << x0 + group / 2 << "' y='" << top + height + 15 << "' text-anchor='middle'>"
        << escaped(chart.groups[r]) << "</text>\n";
  }
  for (size_t c = 0; c < chart.series.size(); ++c)
    svg << "<rect x='" << plot_right + 20 << "' y='" << top + 16 * c << "' width='10' height='10' fill='"
        << colors[c % colors.size()] << "'/><text x='" << plot_right + 35 << "' y='" << top + 16 * c + 9 << "'>"
        << escaped(chart.series[c]) << "</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace shardlab
