#include "analysis/retarget.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/steering.h"
#include "analysis/vector_field.h"
#include "core/error.h"
#include "core/progress.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {
namespace {

// The targets of one maze (cheese removed): every free cell but the start, or `max_targets` of
// them spread evenly when max_targets > 0.
std::vector<Cell> retarget_targets(const MazeLayout& l, int max_targets) {
  std::vector<Cell> targets = free_cells(l);
  targets.erase(std::find(targets.begin(), targets.end(), l.start));
  if (max_targets <= 0 || static_cast<int>(targets.size()) <= max_targets) return targets;
  std::vector<Cell> spread;
  for (int i = 0; i < max_targets; ++i) spread.push_back(targets[i * targets.size() / max_targets]);
  return spread;
}

}  // namespace

double normalized_path_probability(const std::vector<Cell>& path, const at::Tensor& probs) {
  if (path.size() < 2) return 1.0;
  double log_sum = 0;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const double p = probs[static_cast<int64_t>(i)][move_between(path[i], path[i + 1])].item<double>();
    log_sum += std::log(std::max(p, 1e-12));
  }
  return std::exp(log_sum / static_cast<double>(path.size() - 1));
}

std::vector<RetargetRow> run_retargeting(const MazePolicy& policy, const std::string& layer,
                                         const std::vector<int64_t>& channels, double value,
                                         const std::vector<MazeLayout>& levels, int max_targets) {
  policy.check_channels(layer, channels);
  if (channels.empty()) throw InputError("--channels: expected at least one channel");

  std::vector<RetargetRow> rows;
  Progress progress("retarget");
  for (const MazeLayout& original : levels) {
    progress.update(static_cast<int64_t>(&original - levels.data()), static_cast<int64_t>(levels.size()), "mazes");
    const MazeLayout l = without_cheese(original);
    const std::vector<Cell> targets = retarget_targets(l, max_targets);
    // The unedited policy on every free cell, once per maze.
    const VectorField plain = vector_field(policy, l);
    const auto row_of = [&](Cell c) {
      return static_cast<int64_t>(std::find(plain.cells.begin(), plain.cells.end(), c) - plain.cells.begin());
    };
    const Cell corner = l.top_right();
    for (const Cell target : targets) {
      const std::vector<Cell> path = maze::shortest_path(l, l.start, target);
      std::vector<MazeInput> on_path;
      std::vector<int64_t> plain_rows;
      for (size_t i = 0; i + 1 < path.size(); ++i) {
        on_path.push_back({l, path[i]});
        plain_rows.push_back(row_of(path[i]));
      }
      const auto [h, w] = policy.activation_position(layer, target);
      ActivationTaps taps;
      for (int64_t ch : channels) taps.add_patch(layer, set_channel_at(ch, h, w, value));
      const at::Tensor edited = policy.forward(on_path, &taps).probs;
      RetargetRow r;
      r.seed = original.level_seed;
      r.target = target;
      r.path_length = static_cast<int>(path.size()) - 1;
      r.distance_to_top_right = std::hypot(target.x - corner.x, target.y - corner.y);
      r.npp_before =
          normalized_path_probability(path, plain.probs.index_select(0, torch::tensor(plain_rows, torch::kInt64)));
      r.npp_after = normalized_path_probability(path, edited);
      rows.push_back(r);
    }
  }
  progress.settle(static_cast<int64_t>(levels.size()), static_cast<int64_t>(levels.size()), "mazes");
  return rows;
}

int topright_path_divergence(const MazeLayout& maze, Cell target) {
  const std::vector<Cell> to_target = maze::shortest_path(maze, maze.start, target);
  const std::vector<Cell> to_corner = maze::path_to_top_right(maze);
  return static_cast<int>(std::count_if(to_target.begin(), to_target.end(), [&](Cell c) {
    return std::find(to_corner.begin(), to_corner.end(), c) == to_corner.end();
  }));
}

ActivationPatch first_element_map_plus_pixel(const std::vector<int64_t>& channels, int64_t h, int64_t w, double value) {
  return [channels, h, w, value](const at::Tensor& x) {
    at::Tensor y = x.clone();
    for (const int64_t ch : channels) {
      at::Tensor map = x[0][ch].clone();
      map[h][w] = value;
      y.select(1, ch).copy_(map.expand({x.size(0), map.size(0), map.size(1)}));
    }
    return y;
  };
}

RetargetNetwork retarget_network(const MazePolicy& policy, const std::string& layer, int64_t max_batch) {
  return [&policy, layer, max_batch](const std::vector<MazeInput>& inputs, const ActivationPatch* patch) {
    if (!patch)
      return policy.in_chunks(
          inputs,
          [&](const at::Tensor& obs, int64_t, int64_t) { return std::vector<at::Tensor>{policy.forward(obs).probs}; },
          max_batch)[0];
    // Chunks of inputs[0] and up to max_batch - 1 others, so that the patch's element 0 is
    // always inputs[0]; the first chunk's element 0 is inputs[0] itself.
    const int64_t n = static_cast<int64_t>(inputs.size()), step = std::max<int64_t>(1, max_batch - 1);
    std::vector<at::Tensor> parts;
    for (int64_t begin = 1; begin < n || parts.empty(); begin += step) {
      std::vector<MazeInput> chunk = {inputs.front()};
      chunk.insert(chunk.end(), inputs.begin() + std::min(begin, n), inputs.begin() + std::min(begin + step, n));
      ActivationTaps taps;
      taps.add_patch(layer, *patch);
      const at::Tensor probs = policy.forward(chunk, &taps).probs;
      parts.push_back(parts.empty() ? probs : probs.slice(0, 1));
    }
    return torch::cat(parts);
  };
}

namespace {

// The inputs of the path to one target: the mouse on each cell but the last.
std::vector<MazeInput> along(const MazeLayout& maze, const std::vector<Cell>& path) {
  std::vector<MazeInput> out;
  for (size_t i = 0; i + 1 < path.size(); ++i) out.push_back({maze, path[i]});
  return out;
}

// The cached conditions for the first target at its activation position (h, w): the edits run
// with the mouse on the start as element 0 of the batch, whose output is dropped.
void measure_position(const RetargetConditions& k, const MazeLayout& maze, const std::vector<Cell>& path, int64_t h,
                      int64_t w, const RetargetNetwork& network, ReferenceRetargetRow& r) {
  std::vector<MazeInput> with_start = {{maze, maze.start}};
  const std::vector<MazeInput> on_path = along(maze, path);
  with_start.insert(with_start.end(), on_path.begin(), on_path.end());
  const auto edited = [&](const std::vector<int64_t>& channels, double value) {
    const ActivationPatch patch = first_element_map_plus_pixel(channels, h, w, value);
    return normalized_path_probability(path, network(with_start, &patch).slice(0, 1));
  };
  r.npp_channel = edited({k.channel}, k.channel_value);
  r.npp_effective = edited(k.effective, k.effective_value);
  r.npp_all = edited(k.cheese_channels, k.all_value);
  if (h == 0 && w == 0) {
    r.npp_cheese = std::nan("");  // cheese_at_square's `if coord == (0, 0): return None`
  } else {
    MazeLayout with_cheese = maze;
    with_cheese.cheese = path.back();
    r.npp_cheese = normalized_path_probability(path, network(along(with_cheese, path), nullptr));
  }
}

}  // namespace

std::vector<ReferenceRetargetRow> reference_retarget_maze(const MazePolicy& policy, const std::string& layer,
                                                          const RetargetConditions& k, const MazeLayout& original,
                                                          const std::vector<Cell>& targets,
                                                          const RetargetNetwork& network) {
  const MazeLayout l = without_cheese(original);
  std::vector<std::vector<Cell>> paths;
  std::vector<MazeInput> every_path;
  for (const Cell target : targets) {
    paths.push_back(maze::shortest_path(l, l.start, target));
    const std::vector<MazeInput> on_path = along(l, paths.back());
    every_path.insert(every_path.end(), on_path.begin(), on_path.end());
  }
  const at::Tensor normal = network(every_path, nullptr);
  std::vector<ReferenceRetargetRow> rows;
  std::map<std::pair<int64_t, int64_t>, size_t> first_at;  // activation position -> its first row
  int64_t begin = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    const std::vector<Cell>& path = paths[t];
    const int64_t end = begin + static_cast<int64_t>(path.size()) - 1;
    const auto [h, w] = policy.activation_position(layer, targets[t]);
    const auto cached = first_at.find({h, w});
    ReferenceRetargetRow r = cached == first_at.end() ? ReferenceRetargetRow{} : rows[cached->second];
    r.seed = original.level_seed;
    r.target = targets[t];
    r.path_length = static_cast<int>(path.size()) - 1;
    r.topright_path_divergence = topright_path_divergence(l, targets[t]);
    r.filter_row = h;
    r.filter_col = w;
    r.npp_normal = normalized_path_probability(path, normal.slice(0, begin, end));
    if (cached == first_at.end()) {
      r.measured = targets[t];
      measure_position(k, l, path, h, w, network, r);
      first_at[{h, w}] = rows.size();
    }
    rows.push_back(r);
    begin = end;
  }
  return rows;
}

std::vector<ReferenceRetargetRow> run_reference_retargeting(const MazePolicy& policy, const std::string& layer,
                                                            const RetargetConditions& k,
                                                            const std::vector<MazeLayout>& levels, int max_targets,
                                                            int64_t max_batch) {
  policy.check_channels(layer, {k.channel});
  policy.check_channels(layer, k.effective);
  policy.check_channels(layer, k.cheese_channels);
  const RetargetNetwork network = retarget_network(policy, layer, max_batch);
  std::vector<ReferenceRetargetRow> rows;
  Progress progress("retarget");
  for (const MazeLayout& original : levels) {
    progress.update(static_cast<int64_t>(&original - levels.data()), static_cast<int64_t>(levels.size()), "mazes");
    const auto maze_rows = reference_retarget_maze(policy, layer, k, original,
                                                   retarget_targets(without_cheese(original), max_targets), network);
    rows.insert(rows.end(), maze_rows.begin(), maze_rows.end());
  }
  progress.settle(static_cast<int64_t>(levels.size()), static_cast<int64_t>(levels.size()), "mazes");
  return rows;
}

}  // namespace shardlab::analysis
