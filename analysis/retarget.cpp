#include "analysis/retarget.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "analysis/steering.h"
#include "analysis/vector_field.h"
#include "core/error.h"
#include "core/progress.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

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
    std::vector<Cell> targets = free_cells(l);
    targets.erase(std::find(targets.begin(), targets.end(), l.start));
    if (max_targets > 0 && static_cast<int>(targets.size()) > max_targets) {
      std::vector<Cell> spread;
      for (int i = 0; i < max_targets; ++i) spread.push_back(targets[i * targets.size() / max_targets]);
      targets = spread;
    }
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

}  // namespace shardlab::analysis
