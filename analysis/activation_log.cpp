#include "analysis/activation_log.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "analysis/pictures.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/text.h"

namespace shardlab::analysis {
namespace {

namespace fs = std::filesystem;
constexpr size_t kBatch = 128;  // rows per forward pass
constexpr uint8_t kGridFree = 0, kGridWall = 1, kGridCheese = 2, kGridMouse = 3;

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  for (auto& item : split(text, ','))
    if (!item.empty()) out.push_back(std::move(item));
  return out;
}

void write_attributes(const MazePolicy& policy, const RecordOptions& o, const std::vector<std::string>& layers,
                      Hdf5File& f, const std::string& version) {
  f.set_string_attribute("/", "format", kActivationLogFormat);
  f.set_string_attribute("/", "version", version);
  f.set_string_attribute("/", "checkpoint", policy.checkpoint());
  f.set_string_attribute("/", "spec", policy.spec().to_ini());
  f.set_string_attribute("/", "layers", join(layers));
  f.set_string_attribute("/", "placement", policy.maze_config().placement.to_string());
  f.set_string_attribute("/", "mouse", o.mouse_everywhere ? "all" : "start");
  f.set_int_attribute("/", "world_size", policy.world_size());
}

void create_datasets(const MazePolicy& policy, const std::vector<std::string>& layers, Hdf5File& f) {
  const int w = policy.world_size();
  Hdf5DatasetOptions small;
  f.create_dataset("mazes/grid", Hdf5Type::kUint8, {w, w}, small);
  f.create_dataset("mazes/cheese", Hdf5Type::kInt32, {2}, small);
  f.create_dataset("mazes/mouse", Hdf5Type::kInt32, {2}, small);
  f.create_dataset("mazes/level_seed", Hdf5Type::kInt64, {}, small);
  f.create_dataset("mazes/maze_dim", Hdf5Type::kInt32, {}, small);
  f.create_dataset("policy/probs", Hdf5Type::kFloat32, {maze::kNumCompactActions}, small);
  f.create_dataset("policy/value", Hdf5Type::kFloat32, {}, small);
  for (const auto& layer : layers) {
    const auto shape = policy.layer_shape(layer);
    Hdf5DatasetOptions options;
    if (shape.size() == 3) {
      // One channel of up to 256 rows per chunk: a channel is read without touching the others.
      options.chunk_shape = {256, 1, shape[1], shape[2]};
    }
    f.create_dataset("activations/" + layer, Hdf5Type::kFloat32, shape, options);
  }
}

// The inputs: every maze of the range, mouse at the start or on every free cell.
std::vector<MazeInput> recorded_inputs(const MazePolicy& policy, const RecordOptions& o) {
  int64_t skipped = 0;
  const auto levels = study_levels(policy, o.seed_begin, o.seed_end, &skipped);
  std::vector<MazeInput> inputs;
  for (const auto& l : levels) {
    if (!o.mouse_everywhere) {
      inputs.push_back({l, l.start});
      continue;
    }
    for (const maze::Cell c : free_cells(l)) inputs.push_back({l, c});
  }
  const std::string limits = policy.maze_config().maze_size_limits();
  if (inputs.empty()) throw InputError("--seeds: no maze in that range fits " + limits);
  if (skipped > 0)
    std::fprintf(stderr, "record: %lld mazes outside %s left out\n", static_cast<long long>(skipped), limits.c_str());
  return inputs;
}

// The policy's activations, move probabilities and values on a batch.
void append_policy_rows(const MazePolicy& policy, const std::vector<std::string>& layers,
                        const std::vector<MazeInput>& batch, Hdf5File& f) {
  ActivationTaps taps;
  for (const auto& layer : layers) taps.record(layer);
  const MoveProbabilities out = policy.forward(batch, &taps);
  for (const auto& layer : layers) {
    const at::Tensor a = taps.recorded().at(layer).to(torch::kFloat32).contiguous();
    f.append("activations/" + layer, a.data_ptr<float>(), a.size(0));
  }
  const at::Tensor probs = out.probs.contiguous(), value = out.value.contiguous();
  f.append("policy/probs", probs.data_ptr<float>(), probs.size(0));
  f.append("policy/value", value.data_ptr<float>(), value.size(0));
}

// The mazes of a batch: the grid (top row first), cheese, mouse, size and level seed.
void append_maze_rows(const std::vector<MazeInput>& batch, int w, Hdf5File& f) {
  std::vector<uint8_t> grid;
  std::vector<int32_t> cheese, mouse, dims;
  std::vector<int64_t> seeds;
  for (const auto& in : batch) {
    const MazeLayout& l = in.layout;
    for (int row = 0; row < w; ++row)
      for (int x = 0; x < w; ++x) {
        const maze::Cell c{x, w - 1 - row};
        grid.push_back(c == in.mouse ? kGridMouse : c == l.cheese ? kGridCheese : l.is_wall(c) ? kGridWall : kGridFree);
      }
    cheese.insert(cheese.end(), {l.cheese.x, l.cheese.y});
    mouse.insert(mouse.end(), {in.mouse.x, in.mouse.y});
    dims.push_back(l.maze_dim);
    seeds.push_back(l.level_seed);
  }
  f.append("mazes/grid", grid);
  f.append("mazes/cheese", cheese);
  f.append("mazes/mouse", mouse);
  f.append("mazes/maze_dim", dims);
  f.append("mazes/level_seed", seeds);
}

void write_log(const MazePolicy& policy, const RecordOptions& o, const std::vector<std::string>& layers, Hdf5File& f,
               const std::string& version, int64_t& rows) {
  const int w = policy.world_size();
  write_attributes(policy, o, layers, f, version);
  create_datasets(policy, layers, f);
  const std::vector<MazeInput> inputs = recorded_inputs(policy, o);

  Progress progress("record");
  const int64_t total = static_cast<int64_t>(inputs.size());
  for (size_t begin = 0; begin < inputs.size(); begin += kBatch) {
    const size_t end = std::min(inputs.size(), begin + kBatch);
    const std::vector<MazeInput> batch(inputs.begin() + begin, inputs.begin() + end);
    append_policy_rows(policy, layers, batch, f);
    append_maze_rows(batch, w, f);
    rows += static_cast<int64_t>(batch.size());
    progress.update(rows, total, "");
  }
  progress.finish(rows, total, "");
}

}  // namespace

int64_t record_activations(const MazePolicy& policy, const RecordOptions& options, const std::string& path,
                           const std::string& version) {
  std::vector<std::string> layers = options.layers.empty() ? policy.layers() : options.layers;
  for (const auto& layer : layers) policy.layer_shape(layer);  // unknown names are errors
  claim_outputs({path}, options.force);
  AtomicFile file(path);  // InputError for a missing folder or a path that is not a regular file
  int64_t rows = 0;
  {
    Hdf5File f = Hdf5File::create(file.temporary_path());
    write_log(policy, options, layers, f, version, rows);
    f.close();
  }
  file.commit(/*replace=*/options.force);
  return rows;
}

ActivationLog ActivationLog::open(const std::string& path) {
  ActivationLog log(Hdf5File::open(path));
  const Hdf5File& f = log.file_;
  if (!f.has_attribute("/", "format") || f.string_attribute("/", "format") != kActivationLogFormat)
    throw FileError(path + ": not a shardlab activation log (no format = \"" + std::string(kActivationLogFormat) +
                    "\" attribute)");
  for (const char* d : {"mazes/grid", "mazes/cheese", "mazes/mouse", "policy/probs"})
    if (!f.has_dataset(d)) throw FileError(path + ": damaged activation log: no dataset /" + std::string(d));
  log.world_size_ = static_cast<int>(f.int_attribute("/", "world_size"));
  log.layers_ = split_commas(f.string_attribute("/", "layers"));
  const auto grid = f.dataset_info("mazes/grid");
  log.rows_ = grid.rows();
  if (grid.shape.size() != 3 || grid.shape[1] != log.world_size_ || grid.shape[2] != log.world_size_)
    throw FileError(path + ": damaged activation log: /mazes/grid has shape " + format_shape(grid.shape));
  // Every per-maze dataset has a row per maze, of the shape the readers index.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> per_maze = {
      {"mazes/cheese", {log.rows_, 2}},
      {"mazes/mouse", {log.rows_, 2}},
      {"policy/probs", {log.rows_, maze::kNumCompactActions}},
      {"mazes/maze_dim", {log.rows_}},
      {"mazes/level_seed", {log.rows_}}};
  for (const auto& [name, shape] : per_maze)
    if (f.has_dataset(name) && f.dataset_info(name).shape != shape)
      throw FileError(path + ": damaged activation log: /" + name + " has shape " +
                      format_shape(f.dataset_info(name).shape) + ", expected " + format_shape(shape));
  for (const auto& layer : log.layers_) {
    if (!f.has_dataset("activations/" + layer))
      throw FileError(path + ": damaged activation log: layer " + layer + " is listed but /activations/" + layer +
                      " is missing");
    const auto info = f.dataset_info("activations/" + layer);
    if (info.rows() != log.rows_)
      throw FileError(path + ": damaged activation log: /activations/" + layer + " has " + std::to_string(info.rows()) +
                      " rows, /mazes/grid " + std::to_string(log.rows_));
  }
  return log;
}

std::vector<int64_t> ActivationLog::layer_shape(const std::string& layer) const {
  if (std::find(layers_.begin(), layers_.end(), layer) == layers_.end())
    throw InputError(path() + ": no layer '" + layer + "' in this log; it has: " + join(layers_));
  return file_.dataset_info("activations/" + layer).row_shape();
}

Hdf5Array<float> ActivationLog::channel(const std::string& layer, int64_t c) const {
  const auto shape = layer_shape(layer);
  if (shape.size() != 3) throw InputError("layer " + layer + " is not spatial (shape " + format_shape(shape) + ")");
  if (c < 0 || c >= shape[0])
    throw InputError("channel " + std::to_string(c) + " out of range: layer " + layer + " has channels 0.." +
                     std::to_string(shape[0] - 1));
  auto a = file_.read_slab<float>("activations/" + layer, {0, c, 0, 0}, {rows_, 1, shape[1], shape[2]});
  a.shape = {rows_, shape[1], shape[2]};
  return a;
}

Hdf5Array<float> ActivationLog::row(const std::string& layer, int64_t r) const {
  layer_shape(layer);
  if (r < 0 || r >= rows_)
    throw InputError("maze " + std::to_string(r) + " out of range: the log has rows 0.." + std::to_string(rows_ - 1));
  auto a = file_.read_rows<float>("activations/" + layer, r, 1);
  a.shape.erase(a.shape.begin());
  return a;
}

maze::MazeLayout ActivationLog::maze(int64_t r, maze::Cell* mouse) const {
  if (r < 0 || r >= rows_)
    throw InputError("maze " + std::to_string(r) + " out of range: the log has rows 0.." + std::to_string(rows_ - 1));
  const int w = world_size_;
  const auto grid = file_.read_rows<uint8_t>("mazes/grid", r, 1);
  const auto cheese = file_.read_rows<int32_t>("mazes/cheese", r, 1);
  const auto at = file_.read_rows<int32_t>("mazes/mouse", r, 1);
  maze::MazeLayout l;
  l.world_size = w;
  l.walls.assign(static_cast<size_t>(w) * w, 0);
  for (int row = 0; row < w; ++row)
    for (int x = 0; x < w; ++x) l.walls[(w - 1 - row) * w + x] = grid.data[row * w + x] == kGridWall;
  l.cheese = {cheese.data[0], cheese.data[1]};
  if (file_.has_dataset("mazes/maze_dim")) l.maze_dim = file_.read_rows<int32_t>("mazes/maze_dim", r, 1).data[0];
  if (file_.has_dataset("mazes/level_seed"))
    l.level_seed = static_cast<uint32_t>(file_.read_rows<int64_t>("mazes/level_seed", r, 1).data[0]);
  l.start = {l.margin(), l.margin()};
  if (mouse) *mouse = {at.data[0], at.data[1]};
  return l;
}

std::vector<maze::Cell> ActivationLog::cheese_cells() const {
  const auto c = file_.read<int32_t>("mazes/cheese");
  std::vector<maze::Cell> out;
  for (int64_t i = 0; i < rows_; ++i) out.push_back({c.data[2 * i], c.data[2 * i + 1]});
  return out;
}

namespace {

struct ChannelStats {
  double mean = 0, sd = 0, min = 0, max = 0, at_cheese = 0, elsewhere = 0;
};

ChannelStats channel_stats(const ActivationLog& log, const Hdf5Array<float>& a,
                           const std::vector<std::pair<int64_t, int64_t>>& cheese) {
  const int64_t n = a.shape[0], h = a.shape[1], w = a.shape[2];
  ChannelStats s;
  s.min = a.data.empty() ? 0 : a.data[0];
  s.max = s.min;
  double sum = 0, sq = 0, at = 0, other = 0;
  int64_t at_count = 0, other_count = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) {
        const double v = a.data[(i * h + r) * w + c];
        sum += v;
        sq += v * v;
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
        if (cheese[i].first == r && cheese[i].second == c) {
          at += v;
          ++at_count;
        } else {
          other += v;
          ++other_count;
        }
      }
  const double count = static_cast<double>(std::max<int64_t>(1, n * h * w));
  s.mean = sum / count;
  s.sd = std::sqrt(std::max(0.0, sq / count - s.mean * s.mean));
  s.at_cheese = at_count ? at / static_cast<double>(at_count) : std::nan("");
  s.elsewhere = other_count ? other / static_cast<double>(other_count) : std::nan("");
  return s;
}

// Draws channel values (h, w) of one row over its maze, `cell` pixels per world cell.
// Draws one channel over the maze, scaled to its largest |value| (returned).
double draw_heatmap(Canvas& canvas, const maze::MazeLayout& l, maze::Cell mouse, const float* values, int64_t h,
                    int64_t w, int cell) {
  double scale = 1e-6;
  for (int64_t i = 0; i < h * w; ++i) scale = std::max(scale, std::abs(static_cast<double>(values[i])));
  draw_maze(canvas, l, 0, 0, cell, mouse);
  const int n = l.world_size;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const auto [r, c] = activation_position(n, h, w, {x, y});
      canvas.blend_rect(x * cell, (n - 1 - y) * cell, cell, cell, diverging_color(values[r * w + c] / scale), 0.6f);
    }
  return scale;
}

std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

}  // namespace

std::string describe_layer(const ActivationLog& log, const std::string& layer, std::optional<int64_t> channel,
                           int64_t row, const std::string& svg) {
  const auto shape = log.layer_shape(layer);
  std::ostringstream out;
  out << log.path() << ": layer " << layer << ", " << log.rows() << " rows, activation shape " << format_shape(shape)
      << '\n';
  if (shape.size() != 3) {
    if (channel) throw InputError("layer " + layer + " is not spatial: --channel needs a channels x h x w layer");
    if (!svg.empty()) throw InputError("layer " + layer + " is not spatial: --svg draws channels x h x w layers");
    const auto r = log.row(layer, row);
    out << "row " << row << ":";
    for (float v : r.data) out << ' ' << v;
    out << '\n';
    return out.str();
  }
  const int64_t channels = shape[0];
  if (channel && (*channel < 0 || *channel >= channels))
    throw InputError("channel " + std::to_string(*channel) + " out of range: layer " + layer + " has channels 0.." +
                     std::to_string(channels - 1));
  if (row < 0 || row >= log.rows())
    throw InputError("--maze " + std::to_string(row) + " out of range: the log has rows 0.." +
                     std::to_string(log.rows() - 1));
  // Where the cheese is, in activation coordinates, for every row ((-1, -1) for no cheese).
  std::vector<std::pair<int64_t, int64_t>> cheese;
  for (const maze::Cell cell : log.cheese_cells())
    cheese.push_back(cell.valid() ? activation_position(log.world_size(), shape[1], shape[2], cell)
                                  : std::pair<int64_t, int64_t>{-1, -1});
  char line[200];
  std::snprintf(line, sizeof line, "%-8s %10s %10s %10s %10s %10s %10s\n", "channel", "mean", "std", "min", "max",
                "at_cheese", "elsewhere");
  out << line;
  const int64_t first = channel ? *channel : 0, last = channel ? *channel + 1 : channels;
  for (int64_t c = first; c < last; ++c) {
    const ChannelStats s = channel_stats(log, log.channel(layer, c), cheese);
    std::snprintf(line, sizeof line, "%-8lld %10.4f %10.4f %10.4f %10.4f %10.4f %10.4f\n", static_cast<long long>(c),
                  s.mean, s.sd, s.min, s.max, s.at_cheese, s.elsewhere);
    out << line;
  }
  if (!svg.empty()) {
    maze::Cell mouse;
    const maze::MazeLayout l = log.maze(row, &mouse);
    const auto values = log.row(layer, row);
    const int64_t plane = shape[1] * shape[2];
    Figure f;
    f.title = log.path() + ": layer " + layer;
    f.notes.push_back("maze row " + std::to_string(row) + ", level seed " + std::to_string(l.level_seed) + " (" +
                      std::to_string(l.maze_dim) + " x " + std::to_string(l.maze_dim) + " maze); activation " +
                      format_shape(shape) + " drawn over the world cells");
    if (channel) {
      const int cell = 32;
      Canvas canvas(cell * l.world_size, cell * l.world_size);
      const double m = draw_heatmap(canvas, l, mouse, values.data.data() + *channel * plane, shape[1], shape[2], cell);
      f.panels.push_back(canvas.panel("channel " + std::to_string(*channel)));
      f.notes.push_back("red positive, blue negative, scaled to the largest |value| (" + short_number(m) + ")");
      f.scales.push_back(diverging_scale("activation", -m, m, m, 0.6f));
    } else {
      const int cell = 8;
      f.columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(channels))));
      for (int64_t c = 0; c < channels; ++c) {
        Canvas canvas(cell * l.world_size, cell * l.world_size);
        const double m = draw_heatmap(canvas, l, mouse, values.data.data() + c * plane, shape[1], shape[2], cell);
        f.panels.push_back(canvas.panel("channel " + std::to_string(c) + " (\u00b1" + short_number(m) + ")"));
      }
      f.notes.push_back("red positive, blue negative; each channel scaled to its largest |value| (under it)");
      f.scales.push_back(diverging_scale("activation", -1, 1, 1, 0.6f, {"-max |value|", "0", "+max |value|"}));
    }
    f.legend = maze_legend(l.has_cheese(), mouse.valid());
    write_figure(svg, f);
    out << "wrote " << svg << " (maze row " << row << ", level seed " << l.level_seed
        << "; red positive, blue negative, scaled to the largest |value|)\n";
  }
  return out.str();
}

}  // namespace shardlab::analysis
