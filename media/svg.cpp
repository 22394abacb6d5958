#include "media/svg.h"

#include <cmath>
#include <cstdio>

namespace shardlab::svg {

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
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

const std::vector<std::string>& palette() {
  static const std::vector<std::string> colors = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors;
}

std::string tick_label(double value) {
  char text[32];
  const double magnitude = std::abs(value);
  if (magnitude >= 1e9)
    std::snprintf(text, sizeof text, "%gG", value / 1e9);
  else if (magnitude >= 1e6)
    std::snprintf(text, sizeof text, "%gM", value / 1e6);
  else if (magnitude >= 1e4)
    std::snprintf(text, sizeof text, "%gk", value / 1e3);
  else
    std::snprintf(text, sizeof text, "%g", value);
  return text;
}

Scale round_scale(double lo, double hi, double pixel_lo, double pixel_hi, bool widen) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / 4;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * power;
  for (double m : {1.0, 2.0, 2.5, 5.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  if (!widen) return {lo, hi, step, pixel_lo, pixel_hi};
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step, pixel_lo, pixel_hi};
}

// The ticks of a scale; a value within rounding of zero is exactly zero.
static std::vector<double> ticks(const Scale& s) {
  std::vector<double> out;
  const double first = std::ceil(s.lo / s.step - 1e-9) * s.step;
  for (int i = 0; first + i * s.step <= s.hi + s.step * 1e-9; ++i) {
    const double t = first + i * s.step;
    out.push_back(std::abs(t) < s.step * 1e-9 ? 0.0 : t);
  }
  return out;
}

void begin(std::ostream& out, int width, int height, const std::string& title, int title_x) {
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << title_x << "' y='20' font-size='14'>" << escaped(title) << "</text>\n";
}

void y_ticks(std::ostream& out, const Scale& y, double left, double right) {
  for (double t : ticks(y))
    out << "<line x1='" << left << "' x2='" << right << "' y1='" << y.at(t) << "' y2='" << y.at(t) << "' stroke='"
        << (t == 0 ? "#888" : "#ddd") << "'/><text x='" << left - 5 << "' y='" << y.at(t) + 4 << "' text-anchor='end'>"
        << tick_label(t) << "</text>\n";
}

void x_ticks(std::ostream& out, const Scale& x, double top, double bottom) {
  for (double t : ticks(x))
    out << "<line x1='" << x.at(t) << "' x2='" << x.at(t) << "' y1='" << top << "' y2='" << bottom + 4
        << "' stroke='#eee'/><text x='" << x.at(t) << "' y='" << bottom + 15 << "' text-anchor='middle'>"
        << tick_label(t) << "</text>\n";
}

void axis_titles(std::ostream& out, const std::string& x_label, const std::string& y_label, double left, double right,
                 double top, double bottom) {
  out << "<text transform='translate(15," << (top + bottom) / 2 << ") rotate(-90)' text-anchor='middle'>"
      << escaped(y_label) << "</text>\n";
  out << "<text x='" << (left + right) / 2 << "' y='" << bottom + 35 << "' text-anchor='middle'>" << escaped(x_label)
      << "</text>\n";
}

void legend(std::ostream& out, const std::vector<LegendEntry>& entries, double x, double y) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const double row = y + 16.0 * i;
    const std::string& color = entries[i].color;
    if (entries[i].swatch == Swatch::kLine)
      out << "<line x1='" << x - 4 << "' x2='" << x + 12 << "' y1='" << row + 5 << "' y2='" << row + 5 << "' stroke='"
          << color << "' stroke-width='2'/>";
    else
      out << "<rect x='" << x << "' y='" << row << "' width='10' height='10' fill='" << color << "'"
          << (entries[i].swatch == Swatch::kBand ? " fill-opacity='0.25'" : "") << "/>";
    out << "<text x='" << x + 15 << "' y='" << row + 9 << "'>" << escaped(entries[i].text) << "</text>\n";
  }
}

int text_width(const std::string& text) { return static_cast<int>(text.size() * 6.2); }

}  // namespace shardlab::svg
