// The pieces every SVG chart shares (media/bar_chart.h, media/line_chart.h): text escaping, axes
// with round ticks, axis titles and a legend. Charts are SVG so their words stay sharp text a
// browser renders and a search finds.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shardlab::svg {

// `text` with the five XML special characters escaped, for element text and quoted attributes.
std::string escaped(const std::string& text);

// The series colours (matplotlib's ten), cycled by series index.
const std::vector<std::string>& palette();

// A tick label: 6 significant digits, large values with a k / M / G suffix ("1.5M").
std::string tick_label(double value);

// A linear axis from data values to pixels with ticks at multiples of 1, 2, 2.5 or 5 times a power
// of ten (about four intervals); `widen`: the range grows to whole ticks (value axes), otherwise
// it is the data's (an x axis of steps, so the curves reach both ends).
struct Scale {
  double lo = 0, hi = 1, step = 0.25;
  double pixel_lo = 0, pixel_hi = 1;  // where lo and hi are drawn
  double at(double value) const { return pixel_lo + (value - lo) / (hi - lo) * (pixel_hi - pixel_lo); }
};
Scale round_scale(double lo, double hi, double pixel_lo, double pixel_hi, bool widen = true);

// The opening <svg> element on a white background, with `title` at the top left.
void begin(std::ostream& out, int width, int height, const std::string& title, int title_x);
// Horizontal grid lines at each tick of `y` from `left` to `right` (the one at zero darker), each
// labelled at the left.
void y_ticks(std::ostream& out, const Scale& y, double left, double right);
// Tick marks and labels of `x` under the line y = `bottom`, with light vertical grid lines up to `top`.
void x_ticks(std::ostream& out, const Scale& x, double top, double bottom);
// The x axis title centred under the plot area, the y axis title rotated along its left side.
void axis_titles(std::ostream& out, const std::string& x_label, const std::string& y_label, double left, double right,
                 double top, double bottom);

// One legend row: a colour swatch (a filled square, a line, or a translucent band) and its text.
enum class Swatch { kSquare, kLine, kBand };
struct LegendEntry {
  std::string text, color;
  Swatch swatch = Swatch::kSquare;
};
void legend(std::ostream& out, const std::vector<LegendEntry>& entries, double x, double y);

// The width of `text` in pixels at the charts' 11px sans-serif, for laying out room for it.
int text_width(const std::string& text);

}  // namespace shardlab::svg
