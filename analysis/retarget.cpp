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

ActivationPatch set_channels_at_each(const std::vector<int64_t>& channels, std::vector<int64_t> h,
                                     std::vector<int64_t> w, double value) {
  return [channels, h = std::move(h), w = std::move(w), value](const at::Tensor& x) {
    const int64_t batch = x.size(0);
    if (static_cast<int64_t>(h.size()) != batch || static_cast<int64_t>(w.size()) != batch)
      throw std::logic_error("set_channels_at_each: " + std::to_string(h.size()) + " positions for a batch of " +
                             std::to_string(batch) + " (a chunk must pass its own slice)");
    at::Tensor y = x.clone();
    for (const int64_t ch : channels) {
      const at::Tensor b = torch::arange(batch, torch::kInt64);
      const at::Tensor c = torch::full({batch}, ch, torch::kInt64);
      y.index_put_({b, c, torch::tensor(h, torch::kInt64), torch::tensor(w, torch::kInt64)},
                   torch::full({batch}, value, x.options()));
    }
    return y;
  };
}

ReferenceRetargetInputs reference_retarget_inputs(const MazePolicy& policy, const std::string& layer,
                                                  const MazeLayout& l, const std::vector<Cell>& targets) {
  ReferenceRetargetInputs in;
  for (const Cell target : targets) {
    in.paths.push_back(maze::shortest_path(l, l.start, target));
    MazeLayout with_cheese = l;
    with_cheese.cheese = target;
    const auto [th, tw] = policy.activation_position(layer, target);
    for (size_t i = 0; i + 1 < in.paths.back().size(); ++i) {
      in.plain.push_back({l, in.paths.back()[i]});
      in.cheese.push_back({with_cheese, in.paths.back()[i]});
      in.h.push_back(th);
      in.w.push_back(tw);
    }
  }
  return in;
}

std::vector<ReferenceRetargetRow> run_reference_retargeting(const MazePolicy& policy, const std::string& layer,
                                                            const RetargetConditions& k,
                                                            const std::vector<MazeLayout>& levels, int max_targets,
                                                            int64_t max_batch) {
  policy.check_channels(layer, {k.channel});
  policy.check_channels(layer, k.effective);
  policy.check_channels(layer, k.cheese_channels);
  std::vector<ReferenceRetargetRow> rows;
  Progress progress("retarget");
  for (const MazeLayout& original : levels) {
    progress.update(static_cast<int64_t>(&original - levels.data()), static_cast<int64_t>(levels.size()), "mazes");
    const MazeLayout l = without_cheese(original);
    const std::vector<Cell> targets = retarget_targets(l, max_targets);
    // Every target's path, run in chunks: a maze's paths run to 10^4 inputs, too many for one
    // pass through a big network.
    const ReferenceRetargetInputs in = reference_retarget_inputs(policy, layer, l, targets);
    const std::vector<std::vector<Cell>>& paths = in.paths;
    const std::vector<at::Tensor> conditions = policy.in_chunks(
        in.plain,
        [&](const at::Tensor& obs, int64_t b, int64_t e) {
          const std::vector<int64_t> hc(in.h.begin() + b, in.h.begin() + e), wc(in.w.begin() + b, in.w.begin() + e);
          const auto patched = [&](const std::vector<int64_t>& channels, double value) {
            ActivationTaps taps;
            taps.add_patch(layer, set_channels_at_each(channels, hc, wc, value));
            return policy.forward(obs, &taps).probs;
          };
          const std::vector<MazeInput> cheese_chunk(in.cheese.begin() + b, in.cheese.begin() + e);
          return std::vector<at::Tensor>{policy.forward(obs).probs, patched({k.channel}, k.channel_value),
                                         patched(k.effective, k.effective_value),
                                         patched(k.cheese_channels, k.all_value), policy.forward(cheese_chunk).probs};
        },
        max_batch);
    const at::Tensor &normal = conditions[0], &channel = conditions[1], &effective = conditions[2],
                     &all = conditions[3], &cheese = conditions[4];
    const Cell corner = l.top_right();
    int64_t begin = 0;
    for (size_t t = 0; t < targets.size(); ++t) {
      const std::vector<Cell>& path = paths[t];
      const int64_t end = begin + static_cast<int64_t>(path.size()) - 1;
      const auto npp = [&](const at::Tensor& probs) {
        return normalized_path_probability(path, probs.slice(0, begin, end));
      };
      ReferenceRetargetRow r;
      r.seed = original.level_seed;
      r.target = targets[t];
      r.path_length = static_cast<int>(path.size()) - 1;
      r.distance_to_top_right = std::hypot(targets[t].x - corner.x, targets[t].y - corner.y);
      r.npp_normal = npp(normal);
      r.npp_channel = npp(channel);
      r.npp_effective = npp(effective);
      r.npp_all = npp(all);
      r.npp_cheese = npp(cheese);
      rows.push_back(r);
      begin = end;
    }
  }
  progress.settle(static_cast<int64_t>(levels.size()), static_cast<int64_t>(levels.size()), "mazes");
  return rows;
}

}  // namespace shardlab::analysis
