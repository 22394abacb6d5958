#include "media/line_chart.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "media/svg.h"

namespace shardlab {
namespace {

constexpr int kLeft = 70, kPlotWidth = 560, kPlotHeight = 240;
constexpr int kPanelTitle = 28;   // room above a panel's plot for its title
constexpr int kPanelBottom = 50;  // room below it for x ticks and the x axis title

bool finite_point(const LineSeries& s, size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

bool has_band(const LineSeries& s) { return !s.band_lo.empty(); }

// The band as one closed subpath per run of finite points: along the top, back along the bottom.
std::string band_path(const LineSeries& s, const svg::Scale& x, const svg::Scale& y) {
  std::ostringstream d;
  for (size_t begin = 0; begin < s.x.size();) {
    const auto ok = [&](size_t i) {
      return finite_point(s, i) && std::isfinite(s.band_lo[i]) && std::isfinite(s.band_hi[i]);
    };
    if (!ok(begin)) {
      ++begin;
      continue;
    }
    size_t end = begin;
    while (end < s.x.size() && ok(end)) ++end;
    for (size_t i = begin; i < end; ++i) d << (i == begin ? "M" : "L") << x.at(s.x[i]) << ',' << y.at(s.band_hi[i]);
    for (size_t i = end; i-- > begin;) d << 'L' << x.at(s.x[i]) << ',' << y.at(s.band_lo[i]);
    d << 'Z';
    begin = end;
  }
  return d.str();
}

std::string line_path(const LineSeries& s, const svg::Scale& x, const svg::Scale& y) {
  std::ostringstream d;
  bool drawing = false;
  for (size_t i = 0; i < s.x.size(); ++i) {
    if (!finite_point(s, i)) {
      drawing = false;
      continue;
    }
    d << (drawing ? "L" : "M") << x.at(s.x[i]) << ',' << y.at(s.y[i]);
    drawing = true;
  }
  return d.str();
}

bool needs_legend(const LinePanel& panel) {
  return panel.series.size() > 1 || std::any_of(panel.series.begin(), panel.series.end(), has_band);
}

void draw_panel(std::ostringstream& out, const LinePanel& panel, int top) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const LineSeries& s : panel.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s, i)) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      for (double v : {s.y[i], has_band(s) ? s.band_lo[i] : s.y[i], has_band(s) ? s.band_hi[i] : s.y[i]})
        if (std::isfinite(v)) y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
    }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing to draw: empty axes
  const int plot_top = top + kPanelTitle, bottom = plot_top + kPlotHeight, right = kLeft + kPlotWidth;
  const svg::Scale x = svg::round_scale(x_lo, x_hi, kLeft, right, false);
  const svg::Scale y = svg::round_scale(y_lo, y_hi, bottom, plot_top);
  out << "<g class='panel'>\n<text x='" << kLeft << "' y='" << plot_top - 8 << "' font-size='12' font-weight='bold'>"
      << svg::escaped(panel.title) << "</text>\n";
  svg::x_ticks(out, x, plot_top, bottom);
  svg::y_ticks(out, y, kLeft, right);
  svg::axis_titles(out, panel.x_label, panel.y_label, kLeft, right, plot_top, bottom);
  std::vector<svg::LegendEntry> entries, band_entries;  // the lines' entries, then the bands'
  const auto& colors = svg::palette();
  for (size_t k = 0; k < panel.series.size(); ++k) {
    const LineSeries& s = panel.series[k];
    const std::string& color = colors[k % colors.size()];
    if (!has_band(s)) continue;
    out << "<path class='band' d='" << band_path(s, x, y) << "' fill='" << color
        << "' fill-opacity='0.25' stroke='none'/>\n";
    band_entries.push_back({s.band_name, color, svg::Swatch::kBand});
  }
  for (size_t k = 0; k < panel.series.size(); ++k) {
    const std::string& color = colors[k % colors.size()];
    out << "<path class='series' d='" << line_path(panel.series[k], x, y) << "' fill='none' stroke='" << color
        << "' stroke-width='1.5'/>\n";
    entries.push_back({panel.series[k].name, color, svg::Swatch::kLine});
  }
  entries.insert(entries.end(), band_entries.begin(), band_entries.end());
  if (needs_legend(panel)) svg::legend(out, entries, right + 20, plot_top);
  out << "</g>\n";
}

}  // namespace

std::string line_chart_svg(const LineChart& chart) {
  int legend = 0;
  for (const LinePanel& panel : chart.panels)
    if (needs_legend(panel))
      for (const LineSeries& s : panel.series)
        legend = std::max({legend, svg::text_width(s.name) + 40, svg::text_width(s.band_name) + 40});
  const int panel_height = kPanelTitle + kPlotHeight + kPanelBottom;
  const int width = std::max(kLeft + kPlotWidth + 20 + legend, kLeft + static_cast<int>(chart.title.size() * 7.8) + 20);
  const int header = 30;
  std::ostringstream out;
  svg::begin(out, width, header + static_cast<int>(chart.panels.size()) * panel_height, chart.title, kLeft);
  for (size_t p = 0; p < chart.panels.size(); ++p)
    draw_panel(out, chart.panels[p], header + static_cast<int>(p) * panel_height);
  out << "</svg>\n";
  return out.str();
}

}  // namespace shardlab
