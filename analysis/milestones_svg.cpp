// milestones.svg: one panel per milestone quantity, each run's values normalised so that step 0 is
// 0 and the final milestone 1 (-1 for a quantity that fell; the halfway threshold is then the line
// at 0.5 for every run that rose), with
// the bootstrap band, the K-standard-error threshold, and each crossing marked with its interval.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "analysis/milestones.h"
#include "core/statistics.h"
#include "media/svg.h"

namespace shardlab::analysis {
namespace {

constexpr int kLeft = 70, kPlotWidth = 560, kPlotHeight = 200, kPanelTitle = 28, kPanelBottom = 50, kHeader = 30;
constexpr double kClip = 2.5;  // normalised values beyond [-kClip, 1 + kClip] are drawn at the edge

struct Normaliser {
  double origin = 0, scale = 1;
  double operator()(double v) const {
    return std::isfinite(v) ? std::clamp((v - origin) / scale, -kClip, 1 + kClip) : std::nan("");
  }
};

Normaliser normaliser(const QuantityResult& r) {
  const double rise = r.values.back() - r.values.front();
  return {r.values.front(), std::isfinite(rise) && std::abs(rise) > 1e-12 ? std::abs(rise) : 1.0};
}

std::string step_label(const MilestoneRun& run, int64_t index) {
  return index >= 0 && index < static_cast<int64_t>(run.steps.size())
             ? svg::tick_label(static_cast<double>(run.steps[index]))
             : "never";
}

std::string crossing_label(const MilestoneRun& run, const Crossing& c) {
  return step_label(run, c.index) + " [" + step_label(run, c.lo_index) + ", " + step_label(run, c.hi_index) + "]";
}

std::string path_of(const std::vector<double>& xs, const std::vector<double>& ys, const svg::Scale& x,
                    const svg::Scale& y) {
  std::ostringstream d;
  bool drawing = false;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(ys[i])) {
      drawing = false;
      continue;
    }
    d << (drawing ? "L" : "M") << x.at(xs[i]) << ',' << y.at(ys[i]);
    drawing = true;
  }
  return d.str();
}

// One run in one panel: band, line, its standard-error threshold and its crossings.
void draw_run(std::ostringstream& out, const MilestoneRun& run, const QuantityResult& r, const svg::Scale& x,
              const svg::Scale& y, const std::string& color, int row) {
  const Normaliser n = normaliser(r);
  std::vector<double> xs, ys, lo, hi;
  for (size_t i = 0; i < run.steps.size(); ++i) {
    xs.push_back(static_cast<double>(run.steps[i]));
    ys.push_back(n(r.values[i]));
    lo.push_back(n(r.intervals[i].lo));
    hi.push_back(n(r.intervals[i].hi));
  }
  std::ostringstream band;
  for (size_t i = 0; i < xs.size(); ++i)
    band << (i ? "L" : "M") << x.at(xs[i]) << ',' << y.at(std::isfinite(hi[i]) ? hi[i] : 0);
  for (size_t i = xs.size(); i-- > 0;) band << 'L' << x.at(xs[i]) << ',' << y.at(std::isfinite(lo[i]) ? lo[i] : 0);
  out << "<path class='band' d='" << band.str() << "Z' fill='" << color << "' fill-opacity='0.15' stroke='none'/>\n";
  out << "<path class='series' d='" << path_of(xs, ys, x, y) << "' fill='none' stroke='" << color
      << "' stroke-width='1.5'/>\n";
  const Crossing& se = r.crossings[1];
  if (se.threshold.reachable)
    out << "<line class='threshold' x1='" << x.pixel_lo << "' x2='" << x.pixel_hi << "' y1='"
        << y.at(n(se.threshold.value)) << "' y2='" << y.at(n(se.threshold.value)) << "' stroke='" << color
        << "' stroke-dasharray='2,3'/>\n";
  // Each rule's crossing: a marker on the line (filled: halfway, open: K SE) and its interval as a
  // bar under the plot's top, one row per run and rule.
  for (size_t k = 0; k < r.crossings.size(); ++k) {
    const Crossing& c = r.crossings[k];
    const double bar_y = y.pixel_hi + 8 + 7 * (2 * row + static_cast<int>(k));
    if (c.lo_index < static_cast<int64_t>(xs.size())) {  // some resample crossed: its interval as a bar
      const double bar_hi = c.hi_index >= static_cast<int64_t>(xs.size()) ? x.pixel_hi : x.at(xs[c.hi_index]);
      out << "<line class='crossing_ci95' x1='" << x.at(xs[c.lo_index]) << "' x2='" << bar_hi << "' y1='" << bar_y
          << "' y2='" << bar_y << "' stroke='" << color << "' stroke-width='" << (k == 0 ? 3 : 1.5) << "'/>\n";
    }
    if (c.index < 0) continue;
    out << "<circle class='crossing' cx='" << x.at(xs[c.index]) << "' cy='" << y.at(ys[c.index]) << "' r='4' fill='"
        << (k == 0 ? color : "white") << "' stroke='" << color << "' stroke-width='1.5'><title>"
        << rule_name(threshold_rules()[k]) << " crossing " << crossing_label(run, c) << "</title></circle>\n";
  }
}

void draw_panel(std::ostringstream& out, const MilestoneStudy& study, size_t q, const std::string& title, int top) {
  const int plot_top = top + kPanelTitle, bottom = plot_top + kPlotHeight, right = kLeft + kPlotWidth;
  const auto& steps = study.runs.front().steps;
  const svg::Scale x =
      svg::round_scale(static_cast<double>(steps.front()),
                       static_cast<double>(std::max(steps.back(), steps.front() + 1)), kLeft, right, false);
  double y_lo = 0, y_hi = 1;
  for (size_t r = 0; r < study.runs.size(); ++r) {
    const QuantityResult& res = study.analyses[r].quantities[q];
    const Normaliser n = normaliser(res);
    for (size_t i = 0; i < res.values.size(); ++i)
      for (double v : {n(res.values[i]), n(res.intervals[i].lo), n(res.intervals[i].hi)})
        if (std::isfinite(v)) y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
  }
  const svg::Scale y = svg::round_scale(y_lo, y_hi, bottom, plot_top);
  out << "<g class='panel'>\n<text x='" << kLeft << "' y='" << plot_top - 8 << "' font-size='12' font-weight='bold'>"
      << svg::escaped(title) << "</text>\n";
  svg::x_ticks(out, x, plot_top, bottom);
  svg::y_ticks(out, y, kLeft, right);
  svg::axis_titles(out, "env steps", "(value - step 0) / |final - step 0|", kLeft, right, plot_top, bottom);
  out << "<line class='threshold' x1='" << kLeft << "' x2='" << right << "' y1='" << y.at(0.5) << "' y2='" << y.at(0.5)
      << "' stroke='#555' stroke-dasharray='6,4'/>\n";
  std::vector<svg::LegendEntry> entries;
  const auto& colors = svg::palette();
  for (size_t r = 0; r < study.runs.size(); ++r) {
    const MilestoneRun& run = study.runs[r];
    const QuantityResult& res = study.analyses[r].quantities[q];
    const std::string& color = colors[r % colors.size()];
    draw_run(out, run, res, x, y, color, static_cast<int>(r));
    const std::string who = run.run_seed >= 0 ? "seed " + std::to_string(run.run_seed) : run.run_dir;
    entries.push_back({who + " (" + csv_number(res.values.front()) + " -> " + csv_number(res.values.back()) +
                           "): halfway " + crossing_label(run, res.crossings[0]) + ", SE " +
                           crossing_label(run, res.crossings[1]),
                       color, svg::Swatch::kLine});
  }
  entries.push_back({"halfway threshold (0.5); dotted: the run's SE threshold", "#555", svg::Swatch::kLine});
  svg::legend(out, entries, right + 20, plot_top);
  out << "</g>\n";
}

}  // namespace

std::string milestones_svg(const MilestoneStudy& study) {
  const auto& quantities = milestone_quantities();
  int legend = 0;
  for (size_t r = 0; r < study.runs.size(); ++r)
    legend = std::max(legend, svg::text_width(study.runs[r].run_dir) + 420);
  const int panel_height = kPanelTitle + kPlotHeight + kPanelBottom;
  const int panels = static_cast<int>(milestone_names().size());
  std::ostringstream out;
  std::ostringstream title;
  title << "Developmental milestones, " << study.runs.size() << " run(s): crossings held for two milestones (filled: "
        << "halfway, open: " << study.options.crossing.standard_errors << " SE above step 0), bars: 95% intervals";
  svg::begin(out, kLeft + kPlotWidth + 20 + legend, kHeader + panels * panel_height, title.str(), kLeft);
  int p = 0;
  for (size_t q = 0; q < quantities.size(); ++q) {
    if (!quantities[q].milestone) continue;
    draw_panel(out, study, q, quantities[q].name + ": " + quantities[q].meaning, kHeader + p++ * panel_height);
  }
  out << "</svg>\n";
  return out.str();
}

}  // namespace shardlab::analysis
