#include "analysis/vector_field.h"

#include <torch/torch.h>

#include <cmath>

#include "analysis/pictures.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/text.h"

namespace shardlab::analysis {
namespace {

int64_t channel_in_range(const MazePolicy& policy, const std::string& layer, const std::string& text,
                         const std::string& where) {
  const auto c = parse_integer(text);
  if (!c) throw InputError(where + ": '" + text + "' is not a channel number");
  try {
    policy.check_channels(layer, {*c});
  } catch (const InputError& e) {
    throw InputError(where + ": " + e.what());
  }
  return *c;
}

double number(const std::string& text, const std::string& where) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw InputError(where + ": '" + text + "' is not a number");
}

}  // namespace

VectorField vector_field(const MazePolicy& policy, const MazeLayout& layout, ActivationTaps* taps,
                         VectorFieldCells cells) {
  VectorField f;
  f.layout = layout;
  for (const Cell c : free_cells(layout))
    if (cells == VectorFieldCells::kAllFree || !(layout.has_cheese() && c == layout.cheese)) f.cells.push_back(c);
  std::vector<MazeInput> inputs;
  for (const Cell c : f.cells) inputs.push_back({layout, c});
  f.probs = policy.forward(inputs, taps).probs;
  return f;
}

void add_patch_from_text(const MazePolicy& policy, const MazeLayout& layout, const std::string& text,
                         ActivationTaps& taps) {
  const std::string where = "--patch " + text;
  const auto parts = split(text, ':');
  const std::string kind = parts[0];
  if ((kind == "cheese-vector" || kind == "top-right-vector") && parts.size() == 3) {
    const std::string& layer = parts[1];
    policy.layer_shape(layer);
    const double coeff = number(parts[2], where);
    const at::Tensor v =
        kind == "cheese-vector" ? cheese_vector(policy, layer, layout) : top_right_vector(policy, layer, layout);
    taps.add_patch(layer, add_vector(v, coeff));
    return;
  }
  if (kind == "channel" && parts.size() == 6) {
    const std::string& layer = parts[1];
    const int64_t c = channel_in_range(policy, layer, parts[2], where);
    const double value = number(parts[3], where);
    const auto x = parse_integer(parts[4]), y = parse_integer(parts[5]);
    if (!x || !y || !layout.in_world({static_cast<int>(*x), static_cast<int>(*y)}))
      throw InputError(where + ": cell (" + parts[4] + ", " + parts[5] + ") is not in the world");
    const auto [h, w] = policy.activation_position(layer, {static_cast<int>(*x), static_cast<int>(*y)});
    taps.add_patch(layer, set_channel_at(c, h, w, value));
    return;
  }
  if (kind == "zero" && parts.size() == 3) {
    const std::string& layer = parts[1];
    std::vector<int64_t> channels;
    for (const auto& c : split(parts[2], ',')) channels.push_back(channel_in_range(policy, layer, c, where));
    taps.add_patch(layer, set_channels(channels, 0.0));
    return;
  }
  throw InputError(where +
                   ": expected cheese-vector:LAYER:COEFF, top-right-vector:LAYER:COEFF, "
                   "channel:LAYER:C:VALUE:X:Y or zero:LAYER:C1,C2,...");
}

void draw_vector_fields(const VectorField& original, const VectorField* patched, const std::string& patch,
                        const std::string& svg_path) {
  const MazeLayout& l = original.layout;
  const int cell = l.world_size <= 15 ? 32 : 22;
  const int side = cell * l.world_size;
  // The arrow of one cell: (right - left, up - down), drawn from the cell's centre.
  const auto draw = [&](const at::Tensor& probs, Rgb color, const std::string& caption) {
    Canvas canvas(side, side);
    draw_maze(canvas, l, 0, 0, cell);
    auto p = probs.accessor<float, 2>();
    for (size_t i = 0; i < original.cells.size(); ++i) {
      const Cell c = original.cells[i];
      const double dx = p[i][maze::kRight] - p[i][maze::kLeft];
      const double dy = p[i][maze::kUp] - p[i][maze::kDown];
      const double cx = cell_center_x(l, c, 0, cell), cy = cell_center_y(l, c, 0, cell);
      const double ex = cx + dx * cell * 0.9, ey = cy - dy * cell * 0.9;
      canvas.line(cx, cy, ex, ey, color, 2);
      canvas.fill_rect(static_cast<int>(ex) - 2, static_cast<int>(ey) - 2, 5, 5, color);
    }
    return canvas.panel(caption);
  };
  const Rgb blue{0.1f, 0.2f, 0.8f}, red{0.85f, 0.1f, 0.1f};
  Figure f;
  f.title = "Vector field of level seed " + std::to_string(l.level_seed) +
            (patch.empty() ? std::string() : ", patched with " + patch);
  f.notes = {"the policy's move probabilities with the mouse on every free cell (" + std::to_string(l.maze_dim) +
             " x " + std::to_string(l.maze_dim) + " maze" + (l.has_cheese() ? ")" : ", cheese removed)")};
  f.panels.push_back(draw(original.probs, blue, "original"));
  f.legend = {{"arrow from each free cell: (P(right) - P(left), P(up) - P(down)); 0.9 cell long at 1",
               hex_color(blue.r, blue.g, blue.b), svg::Swatch::kLine}};
  if (patched) {
    f.panels.push_back(draw(patched->probs, blue, "patched"));
    f.panels.push_back(draw(patched->probs - original.probs, red, "patched - original"));
    f.legend.push_back(
        {"difference: patched arrow minus original arrow", hex_color(red.r, red.g, red.b), svg::Swatch::kLine});
  }
  f.columns = static_cast<int>(f.panels.size());
  for (const auto& e : maze_legend(l.has_cheese(), false)) f.legend.push_back(e);
  write_figure(svg_path, f);
}

}  // namespace shardlab::analysis
