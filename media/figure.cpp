#include "media/figure.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"
#include "media/png.h"

namespace shardlab {
namespace {

constexpr int kMargin = 12;                  // around everything, px
constexpr int kGap = 12;                     // between grid cells, px
constexpr int kLine = 16;                    // one line of 11px text, px
constexpr int kBarWidth = 14;                // the colour bar, px
constexpr int kBarBands = 64;                // rects the colour bar is drawn with
constexpr double kTitleScale = 14.0 / 11.0;  // the title's font size over the body's

struct Color {
  float r = 0, g = 0, b = 0;
};

Color parse_color(const std::string& hex) {
  unsigned r = 0, g = 0, b = 0;
  if (hex.size() != 7 || std::sscanf(hex.c_str(), "#%2x%2x%2x", &r, &g, &b) != 3)
    throw Error("figure: colour scale colour '" + hex + "' is not #rrggbb");
  return {r / 255.0f, g / 255.0f, b / 255.0f};
}

// The colour at fraction t in [0, 1] along evenly spaced colours, blended linearly.
std::string color_along(const std::vector<Color>& colors, double t) {
  const double at = std::clamp(t, 0.0, 1.0) * (colors.size() - 1);
  const size_t i = std::min(colors.size() - 2, static_cast<size_t>(at));
  const float f = static_cast<float>(at - i);
  const Color& a = colors[i];
  const Color& b = colors[i + 1];
  return hex_color(a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b));
}

int widest(const std::vector<std::string>& texts) {
  int w = 0;
  for (const auto& t : texts) w = std::max(w, svg::text_width(t));
  return w;
}

// The width a colour scale takes right of the grid: the bar, its tick labels, its label.
int scale_width(const ColorScale& s) {
  int ticks = 0;
  for (const auto& t : s.ticks) ticks = std::max(ticks, svg::text_width(t.text));
  return std::max(svg::text_width(s.label), kBarWidth + 8 + ticks);
}

void draw_scale(std::ostream& out, const ColorScale& s, int x, int top, int bar_height) {
  if (s.colors.size() < 2) throw Error("figure: colour scale '" + s.label + "' needs at least two colours");
  if (!(s.hi > s.lo)) throw Error("figure: colour scale '" + s.label + "' has an empty range");
  std::vector<Color> colors;
  for (const auto& c : s.colors) colors.push_back(parse_color(c));
  out << "<g class='color-scale'>\n<text x='" << x << "' y='" << top + 11 << "'>" << svg::escaped(s.label)
      << "</text>\n";
  const int bar_top = top + kLine + 2;
  const double band = static_cast<double>(bar_height) / kBarBands;
  for (int i = 0; i < kBarBands; ++i) {
    // Band 0 is the top (hi); each overlaps the next by a pixel so no seam shows.
    const double t = 1.0 - (i + 0.5) / kBarBands;
    out << "<rect x='" << x << "' y='" << bar_top + i * band << "' width='" << kBarWidth << "' height='"
        << (i + 1 < kBarBands ? band + 1 : band) << "' fill='" << color_along(colors, t) << "'/>";
  }
  out << "\n<rect x='" << x << "' y='" << bar_top << "' width='" << kBarWidth << "' height='" << bar_height
      << "' fill='none' stroke='#888'/>\n";
  for (const auto& tick : s.ticks) {
    const double y = bar_top + (s.hi - tick.value) / (s.hi - s.lo) * bar_height;
    out << "<line x1='" << x + kBarWidth << "' x2='" << x + kBarWidth + 4 << "' y1='" << y << "' y2='" << y
        << "' stroke='#444'/><text x='" << x + kBarWidth + 7 << "' y='" << y + 4 << "'>" << svg::escaped(tick.text)
        << "</text>\n";
  }
  out << "</g>\n";
}

}  // namespace

std::string hex_color(float r, float g, float b) {
  const auto byte = [](float v) { return static_cast<unsigned>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); };
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", byte(r), byte(g), byte(b));
  return text;
}

std::string base64(const std::string& bytes) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) group = group << 8 | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    // n bytes give n + 1 digits; '=' pads the group to four.
    for (size_t k = 0; k < 4; ++k) out += k <= n ? digits[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::string figure_svg(const Figure& f) {
  int panel_w = 0, panel_h = 0;
  std::vector<std::string> captions;
  for (const auto& p : f.panels) {
    if (p.width <= 0 || p.height <= 0 || p.chw.size() != static_cast<size_t>(3) * p.width * p.height)
      throw Error("figure: panel '" + p.caption + "' has " + std::to_string(p.chw.size()) + " values for " +
                  std::to_string(p.width) + " x " + std::to_string(p.height) + " RGB pixels");
    panel_w = std::max(panel_w, p.width);
    panel_h = std::max(panel_h, p.height);
    captions.push_back(p.caption);
  }
  const int columns = std::max(1, std::min<int>(f.columns, std::max<size_t>(1, f.panels.size())));
  const int rows = (static_cast<int>(f.panels.size()) + columns - 1) / columns;
  const bool any_caption = std::any_of(captions.begin(), captions.end(), [](const auto& c) { return !c.empty(); });
  const int cell_w = std::max({panel_w, widest(captions) + 6, widest(f.column_labels) + 6});
  const int caption_h = any_caption ? kLine + 2 : 0;

  int top = 20 + kLine * static_cast<int>(f.notes.size()) + 14;
  const int column_label_y = top + 11;
  if (!f.column_labels.empty()) top += kLine + 2;
  const int left = kMargin + (f.row_labels.empty() ? 0 : widest(f.row_labels) + 10);
  const int grid_right = left + columns * cell_w + (columns - 1) * kGap;
  const int grid_bottom = top + rows * (panel_h + caption_h) + std::max(0, rows - 1) * kGap;

  const int bar_height = std::clamp(grid_bottom - top - kLine - 2, 100, 240);
  int right = grid_right, bottom = grid_bottom;
  for (const auto& s : f.scales) {
    right += 2 * kGap + scale_width(s);
    bottom = std::max(bottom, top + kLine + 2 + bar_height + 8);
  }
  const int legend_y = bottom + kGap;
  if (!f.legend.empty()) bottom = legend_y + kLine * static_cast<int>(f.legend.size());
  int legend_w = 0;
  for (const auto& e : f.legend) legend_w = std::max(legend_w, 15 + svg::text_width(e.text));
  const int width = std::max({right, kMargin + static_cast<int>(std::ceil(svg::text_width(f.title) * kTitleScale)),
                              kMargin + widest(f.notes), kMargin + legend_w}) +
                    kMargin;
  const int height = bottom + kMargin;

  std::ostringstream out;
  svg::begin(out, width, height, f.title, kMargin);
  for (size_t i = 0; i < f.notes.size(); ++i)
    out << "<text class='note' x='" << kMargin << "' y='" << 20 + kLine * (i + 1) << "' fill='#444'>"
        << svg::escaped(f.notes[i]) << "</text>\n";
  for (size_t c = 0; c < f.column_labels.size() && c < static_cast<size_t>(columns); ++c)
    out << "<text class='column-label' x='" << left + c * (cell_w + kGap) + cell_w / 2.0 << "' y='" << column_label_y
        << "' text-anchor='middle'>" << svg::escaped(f.column_labels[c]) << "</text>\n";
  for (size_t r = 0; r < f.row_labels.size() && r < static_cast<size_t>(rows); ++r)
    out << "<text class='row-label' x='" << left - 10 << "' y='"
        << top + r * (panel_h + caption_h + kGap) + panel_h / 2.0 + 4 << "' text-anchor='end'>"
        << svg::escaped(f.row_labels[r]) << "</text>\n";
  for (size_t i = 0; i < f.panels.size(); ++i) {
    const FigurePanel& p = f.panels[i];
    const int cx = left + static_cast<int>(i % columns) * (cell_w + kGap);
    const int cy = top + static_cast<int>(i / columns) * (panel_h + caption_h + kGap);
    out << "<image class='panel' x='" << cx + (cell_w - p.width) / 2 << "' y='" << cy << "' width='" << p.width
        << "' height='" << p.height << "' preserveAspectRatio='none' style='image-rendering:pixelated'"
        << " href='data:image/png;base64," << base64(png_bytes(p.chw.data(), p.height, p.width)) << "'/>\n";
    if (!p.caption.empty())
      out << "<text class='caption' x='" << cx + cell_w / 2.0 << "' y='" << cy + panel_h + 14
          << "' text-anchor='middle'>" << svg::escaped(p.caption) << "</text>\n";
  }
  int scale_x = grid_right + 2 * kGap;
  for (const auto& s : f.scales) {
    draw_scale(out, s, scale_x, top, bar_height);
    scale_x += scale_width(s) + 2 * kGap;
  }
  svg::legend(out, f.legend, kMargin, legend_y);
  out << "</svg>\n";
  return out.str();
}

void check_svg_path(const std::string& path, const std::string& what) {
  if (path.size() <= 4 || !ends_with(path, ".svg"))
    throw InputError(what + " " + path + ": pictures are written as SVG; expected a file name ending in .svg");
}

void write_figure(const std::string& path, const Figure& figure) {
  check_svg_path(path, "figure");
  write_file_atomically(path, figure_svg(figure));
}

}  // namespace shardlab
