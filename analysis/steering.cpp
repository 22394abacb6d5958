#include "analysis/steering.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "core/progress.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {
namespace {

constexpr size_t kChunk = 256;  // mazes per batch

// Patches a batch with one delta per sample (batch, C, H, W).
ActivationPatch add_per_sample(at::Tensor delta) {
  return [delta](const at::Tensor& x) { return x + delta.to(x.dtype()); };
}

}  // namespace

std::optional<DecisionSquare> find_decision_square(const MazeLayout& layout) {
  // When the corner itself lies on the way to the cheese there is no choice to measure.
  if (!maze::offers_corner_or_cheese(layout)) return std::nullopt;
  const auto cell = maze::decision_square(layout);
  const auto to_cheese = maze::shortest_path(layout, layout.start, layout.cheese);
  const auto to_corner = maze::path_to_top_right(layout);
  const auto next_on = [&](const std::vector<Cell>& path) {
    const auto it = std::find(path.begin(), path.end(), *cell);
    return move_between(*cell, *(it + 1));
  };
  return DecisionSquare{*cell, next_on(to_cheese), next_on(to_corner)};
}

DecisionSquareMazes decision_square_mazes(const std::vector<MazeLayout>& levels) {
  DecisionSquareMazes out;
  for (const auto& l : levels) {
    if (const auto ds = find_decision_square(l)) {
      out.mazes.push_back(l);
      out.squares.push_back(*ds);
    } else {
      ++out.left_out;
    }
  }
  return out;
}

MazeLayout without_cheese(const MazeLayout& layout) {
  MazeLayout out = layout;
  out.cheese = Cell{};
  return out;
}

std::optional<MazeLayout> with_top_right_corridor(const MazeLayout& layout) {
  const int w = layout.world_size;
  const Cell corner = layout.top_right();
  if (corner.x == w - 1 && corner.y == w - 1) return std::nullopt;
  MazeLayout out = layout;
  for (int y = corner.y; y < w; ++y) out.walls[y * w + corner.x] = 0;
  for (int x = corner.x; x < w; ++x) out.walls[(w - 1) * w + x] = 0;
  return out;
}

at::Tensor activation_difference(const MazePolicy& policy, const std::string& layer, const MazeLayout& a,
                                 const MazeLayout& b) {
  const at::Tensor acts = policy.activations({{a, a.start}, {b, b.start}}, layer);
  return acts[0] - acts[1];
}

at::Tensor cheese_vector(const MazePolicy& policy, const std::string& layer, const MazeLayout& layout) {
  if (!layout.has_cheese()) throw InputError("maze " + std::to_string(layout.level_seed) + " has no cheese");
  return activation_difference(policy, layer, layout, without_cheese(layout));
}

at::Tensor top_right_vector(const MazePolicy& policy, const std::string& layer, const MazeLayout& layout) {
  const auto corridor = with_top_right_corridor(layout);
  if (!corridor)
    throw InputError("maze " + std::to_string(layout.level_seed) +
                     " fills the world: no room for a top-right corridor");
  return activation_difference(policy, layer, *corridor, layout);
}

at::Tensor random_vector_like(const at::Tensor& like, at::Generator& gen) {
  at::Tensor r = at::normal(0.0, 1.0, like.sizes(), gen, like.options());
  const double norm = like.norm().item<double>();
  const double rnorm = r.norm().item<double>();
  return rnorm > 0 ? r * (norm / rnorm) : r;
}

namespace {

// The mazes the study applies to: those with a decision square and, when the study needs the
// top-right vector, room for the corridor (`corridors`: the same mazes with it cut).
struct SteeredMazes {
  std::vector<MazeLayout> mazes;
  std::vector<DecisionSquare> squares;
  std::vector<MazeLayout> corridors;
};

SteeredMazes steered_mazes(const std::vector<MazeLayout>& levels, bool needs_corridor) {
  SteeredMazes out;
  const DecisionSquareMazes with_square = decision_square_mazes(levels);
  for (size_t i = 0; i < with_square.mazes.size(); ++i) {
    const auto corridor = with_top_right_corridor(with_square.mazes[i]);
    if (needs_corridor && !corridor) continue;
    out.mazes.push_back(with_square.mazes[i]);
    out.squares.push_back(with_square.squares[i]);
    if (needs_corridor) out.corridors.push_back(*corridor);
  }
  return out;
}

// Vectors for the batch of mazes [begin, end): (batch, C, H, W).
at::Tensor batch_vectors(const MazePolicy& policy, const std::string& layer, const SteeredMazes& s, SteeringVector kind,
                         size_t begin, size_t end) {
  std::vector<MazeLayout> with, without;
  for (size_t i = begin; i < end; ++i) {
    if (kind == SteeringVector::kCheese) {
      with.push_back(s.mazes[i]);
      without.push_back(without_cheese(s.mazes[i]));
    } else {
      with.push_back(s.corridors[i]);
      without.push_back(s.mazes[i]);
    }
  }
  return policy.activations(at_start(with), layer) - policy.activations(at_start(without), layer);
}

// A transferred vector comes from one maze, used on all.
std::optional<at::Tensor> transferred_vector(const MazePolicy& policy, const SteeringStudy& study) {
  if (!study.transfer_from) return std::nullopt;
  const auto source = policy.level(*study.transfer_from);
  if (!source)
    throw InputError("--transfer-from " + std::to_string(*study.transfer_from) + ": maze outside " +
                     policy.maze_config().maze_size_limits());
  return study.vector == SteeringVector::kCheese ? cheese_vector(policy, study.layer, *source)
                                                 : top_right_vector(policy, study.layer, *source);
}

// What the study adds to the batch of mazes [begin, end): (batch, C, H, W).
at::Tensor batch_delta(const MazePolicy& policy, const SteeringStudy& study, const SteeredMazes& s,
                       const std::optional<at::Tensor>& transferred, size_t begin, size_t end) {
  const int64_t n = static_cast<int64_t>(end - begin);
  at::Tensor delta = transferred ? transferred->unsqueeze(0).expand({n, -1, -1, -1}).contiguous() * study.coeff
                                 : batch_vectors(policy, study.layer, s, study.vector, begin, end) * study.coeff;
  if (study.compose_coeff) {
    const SteeringVector other =
        study.vector == SteeringVector::kCheese ? SteeringVector::kTopRight : SteeringVector::kCheese;
    delta = delta + batch_vectors(policy, study.layer, s, other, begin, end) * *study.compose_coeff;
  }
  return delta;
}

// The move probabilities at the decision squares of a batch: plain, steered, and with the random
// control added instead.
struct DecisionProbs {
  at::Tensor plain, steered, controlled;
};

DecisionProbs decision_probs(const MazePolicy& policy, const std::string& layer, const SteeredMazes& s,
                             const at::Tensor& delta, const at::Tensor& random, size_t begin, size_t end) {
  std::vector<MazeInput> at_square;
  for (size_t i = begin; i < end; ++i) at_square.push_back({s.mazes[i], s.squares[i].cell});
  const at::Tensor obs = policy.observations(at_square);
  DecisionProbs p;
  p.plain = policy.forward(obs).probs;
  ActivationTaps steer;
  steer.add_patch(layer, add_per_sample(delta));
  p.steered = policy.forward(obs, &steer).probs;
  ActivationTaps control;
  control.add_patch(layer, add_per_sample(random));
  p.controlled = policy.forward(obs, &control).probs;
  return p;
}

void append_rows(const SteeredMazes& s, size_t begin, size_t end, const at::Tensor& delta, const DecisionProbs& p,
                 std::vector<SteeringRow>& rows) {
  for (int64_t i = 0; i < static_cast<int64_t>(end - begin); ++i) {
    const MazeLayout& m = s.mazes[begin + i];
    const DecisionSquare& ds = s.squares[begin + i];
    SteeringRow row;
    row.seed = m.level_seed;
    row.maze_dim = m.maze_dim;
    row.decision_square = ds.cell;
    row.cheese = m.cheese;
    row.vector_norm = delta[i].norm().item<double>();
    row.p_cheese = p.plain[i][ds.cheese_move].item<double>();
    row.p_top_right = p.plain[i][ds.top_right_move].item<double>();
    row.p_cheese_steered = p.steered[i][ds.cheese_move].item<double>();
    row.p_top_right_steered = p.steered[i][ds.top_right_move].item<double>();
    row.p_cheese_random = p.controlled[i][ds.cheese_move].item<double>();
    row.p_top_right_random = p.controlled[i][ds.top_right_move].item<double>();
    rows.push_back(row);
  }
}

}  // namespace

std::vector<SteeringRow> run_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                      const SteeringStudy& study, int64_t* skipped) {
  policy.layer_shape(study.layer);  // checks the name
  at::Generator gen = at::detail::createCPUGenerator(study.seed);

  const bool needs_corridor = study.vector == SteeringVector::kTopRight || study.compose_coeff.has_value();
  const SteeredMazes s = steered_mazes(levels, needs_corridor);
  const std::vector<MazeLayout>& mazes = s.mazes;
  if (skipped) *skipped = static_cast<int64_t>(levels.size() - mazes.size());
  const std::optional<at::Tensor> transferred = transferred_vector(policy, study);

  std::vector<SteeringRow> rows;
  Progress progress("steer");
  for (size_t begin = 0; begin < mazes.size(); begin += kChunk) {
    progress.update(static_cast<int64_t>(begin), static_cast<int64_t>(mazes.size()), "mazes");
    const size_t end = std::min(mazes.size(), begin + kChunk);
    const int64_t n = static_cast<int64_t>(end - begin);
    const at::Tensor delta = batch_delta(policy, study, s, transferred, begin, end);
    at::Tensor random = torch::empty_like(delta);
    for (int64_t i = 0; i < n; ++i) random[i].copy_(random_vector_like(delta[i], gen));
    const DecisionProbs probs = decision_probs(policy, study.layer, s, delta, random, begin, end);
    append_rows(s, begin, end, delta, probs, rows);
  }
  progress.settle(static_cast<int64_t>(mazes.size()), static_cast<int64_t>(mazes.size()), "mazes");
  return rows;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

SteeringSummary summarize(const std::vector<SteeringRow>& rows) {
  SteeringSummary s;
  s.mazes = static_cast<int64_t>(rows.size());
  const auto column = [&](double SteeringRow::*field) {
    std::vector<double> v;
    for (const auto& r : rows) v.push_back(r.*field);
    return median(v);
  };
  s.median_p_cheese = column(&SteeringRow::p_cheese);
  s.median_p_cheese_steered = column(&SteeringRow::p_cheese_steered);
  s.median_p_cheese_random = column(&SteeringRow::p_cheese_random);
  s.median_p_top_right = column(&SteeringRow::p_top_right);
  s.median_p_top_right_steered = column(&SteeringRow::p_top_right_steered);
  s.median_p_top_right_random = column(&SteeringRow::p_top_right_random);
  for (const auto& r : rows) {
    if (r.p_cheese_steered > r.p_cheese) {
      ++s.cheese_rose;
      s.max_cheese_rise = std::max(s.max_cheese_rise, r.p_cheese_steered - r.p_cheese);
    }
    if (r.p_cheese_steered < r.p_cheese) ++s.cheese_fell;
    if (r.p_top_right_steered > r.p_top_right) ++s.top_right_rose;
    if (r.p_top_right_steered < r.p_top_right) ++s.top_right_fell;
  }
  return s;
}

}  // namespace shardlab::analysis
