#include "analysis/behaviour.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

namespace {

// A Procgen action for each compact move (left, down, up, right, no-op): action a moves by
// (a / 3 - 1, a % 3 - 1), so these are the pure moves.
constexpr int kProcgenActionOfMove[maze::kNumCompactActions] = {1, 3, 5, 7, 4};

bool next_to(Cell a, Cell b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y) == 1; }

}  // namespace

std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed,
                              int max_steps, CheeseJudgement judgement, const RolloutObserver& observe) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const size_t n = levels.size();
  maze::MazeConfig config = policy.maze_config();
  if (max_steps <= 0) max_steps = config.max_episode_steps;
  config.max_episode_steps = max_steps;  // the cut is the protocol's, not the spec's time limit
  // One environment per maze, copies of one (the procgen_rgb assets are shared, not reloaded).
  const maze::MazeEnv prototype(config, 0);
  std::vector<maze::MazeEnv> envs(n, prototype);
  for (size_t i = 0; i < n; ++i) envs[i].set_layout(levels[i]);
  const bool procgen_actions = config.actions == maze::ActionSet::kProcgen;
  const int64_t size = prototype.observation_spec().size();
  std::vector<bool> got(n, false), active(n, true);
  Progress progress("behaviour");
  for (int t = 0; t < max_steps; ++t) {
    progress.update(t, max_steps, "steps of every maze's episode");
    std::vector<size_t> which;
    for (size_t i = 0; i < n; ++i)
      if (active[i]) which.push_back(i);
    if (which.empty()) break;
    for (size_t begin = 0; begin < which.size(); begin += kMaxBatch) {
      const size_t count = std::min<size_t>(kMaxBatch, which.size() - begin);
      std::vector<float> obs(count * size);
      for (size_t j = 0; j < count; ++j) envs[which[begin + j]].write_observation(&obs[j * size]);
      const at::Tensor probs = policy.forward(policy.prepare(obs.data(), static_cast<int64_t>(count))).probs;
      const at::Tensor moves = at::multinomial(probs, 1, true, gen).flatten();
      for (size_t j = 0; j < count; ++j) {
        const size_t i = which[begin + j];
        const int move = static_cast<int>(moves[static_cast<int64_t>(j)].item<int64_t>());
        if (observe) observe(i, t, &obs[j * size], move);
        // Reaching the cheese ends the episode. The reference records no state after that step,
        // so its last state is the cell next to the cheese: both judgements count it.
        if (envs[i].step({procgen_actions ? kProcgenActionOfMove[move] : move}).terminated) {
          active[i] = false;
          got[i] = true;
        }
      }
    }
  }
  progress.settle(max_steps, max_steps, "steps of every maze's episode");
  if (judgement == CheeseJudgement::kReferenceLastStateNextToCheese)
    for (size_t i = 0; i < n; ++i)
      if (active[i] && levels[i].has_cheese() && next_to(envs[i].mouse().position, levels[i].cheese)) got[i] = true;
  return got;
}

const std::vector<std::string>& DecisionFeatures::names() {
  static const std::vector<std::string> names = {
      "euclidean_cheese_to_top_right",       "path_decision_square_to_cheese", "path_decision_square_to_top_right",
      "euclidean_decision_square_to_cheese", "path_start_to_cheese",           "maze_dim"};
  return names;
}

DecisionFeatures decision_features(const MazeLayout& l) {
  const auto square = find_decision_square(l);
  if (!square) throw std::logic_error("decision_features: maze without a decision square");
  const Cell* ds = &square->cell;
  const Cell corner = l.top_right();
  const auto path_len = [&](Cell a, Cell b) { return static_cast<double>(maze::shortest_path(l, a, b).size()) - 1; };
  DecisionFeatures f;
  f.values = {std::hypot(l.cheese.x - corner.x, l.cheese.y - corner.y),
              path_len(*ds, l.cheese),
              path_len(*ds, corner),
              std::hypot(l.cheese.x - ds->x, l.cheese.y - ds->y),
              path_len(l.start, l.cheese),
              static_cast<double>(l.maze_dim)};
  return f;
}

LogisticFit fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, int64_t train,
                         const std::vector<std::string>& names, double l2) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (train < 2 || train >= n) throw InputError("logistic regression: need at least 2 training and 1 test maze");
  const int64_t d = static_cast<int64_t>(names.size());
  Eigen::MatrixXd X(n, d + 1);
  Eigen::VectorXd Y(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) X(i, j) = x[i][j];
    X(i, d) = 1.0;
    Y(i) = y[i] ? 1.0 : 0.0;
  }
  // Standardize with training statistics.
  for (int64_t j = 0; j < d; ++j) {
    const double mean = X.col(j).head(train).mean();
    const double sd = std::sqrt((X.col(j).head(train).array() - mean).square().mean());
    X.col(j) = (X.col(j).array() - mean) / (sd > 0 ? sd : 1.0);
  }
  // Newton's method on the penalized log-likelihood (the intercept is not penalized).
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
  const Eigen::MatrixXd Xt = X.topRows(train);
  const Eigen::VectorXd Yt = Y.head(train);
  Eigen::VectorXd penalty = Eigen::VectorXd::Constant(d + 1, l2 * static_cast<double>(train));
  penalty(d) = 0;
  for (int iter = 0; iter < 100; ++iter) {
    const Eigen::VectorXd p = (1.0 + (-(Xt * w)).array().exp()).inverse().matrix();
    const Eigen::VectorXd grad = Xt.transpose() * (p - Yt) + penalty.cwiseProduct(w);
    Eigen::MatrixXd hess = Xt.transpose() * (p.array() * (1 - p.array())).matrix().asDiagonal() * Xt;
    hess.diagonal() += penalty;
    hess.diagonal().array() += 1e-9;
    const Eigen::VectorXd step = hess.ldlt().solve(grad);
    w -= step;
    if (step.norm() < 1e-10) break;
  }
  const auto accuracy = [&](int64_t begin, int64_t count) {
    int64_t right = 0;
    for (int64_t i = begin; i < begin + count; ++i) right += ((X.row(i).dot(w) > 0) == (Y(i) > 0.5));
    return static_cast<double>(right) / static_cast<double>(count);
  };
  LogisticFit fit;
  fit.names = names;
  for (int64_t j = 0; j < d; ++j) fit.coefficients.push_back(w(j));
  fit.intercept = w(d);
  fit.train = train;
  fit.test = n - train;
  fit.train_accuracy = accuracy(0, train);
  fit.test_accuracy = accuracy(train, n - train);
  const bool majority = Yt.mean() >= 0.5;
  int64_t right = 0;
  for (int64_t i = train; i < n; ++i) right += ((Y(i) > 0.5) == majority);
  fit.majority_baseline = static_cast<double>(right) / static_cast<double>(n - train);
  fit.positive_rate = Y.mean();
  return fit;
}

// ---- the reference protocol -------------------------------------------------------------------

std::vector<uint32_t> draw_level_seeds(int64_t count, int64_t range, uint64_t seed) {
  if (count < 1 || count > range) throw InputError("--episodes: expected 1.." + std::to_string(range));
  Rng rng(seed);
  std::unordered_set<int64_t> seen;
  std::vector<uint32_t> out;
  while (static_cast<int64_t>(out.size()) < count) {
    const int64_t s = static_cast<int64_t>(rng.uniform_u64(static_cast<uint64_t>(range)));
    if (seen.insert(s).second) out.push_back(static_cast<uint32_t>(s));
  }
  return out;
}

namespace {

using maze::in_top_right_region;

// Shortest-path moves from `from` to every world cell (-1: unreachable).
std::vector<int> steps_from(const MazeLayout& l, Cell from) {
  const int w = l.world_size;
  std::vector<int> d(static_cast<size_t>(w) * w, -1);
  std::deque<Cell> queue{from};
  d[from.y * w + from.x] = 0;
  while (!queue.empty()) {
    const Cell c = queue.front();
    queue.pop_front();
    for (const Cell n : {Cell{c.x - 1, c.y}, Cell{c.x, c.y - 1}, Cell{c.x, c.y + 1}, Cell{c.x + 1, c.y}})
      if (l.is_free(n) && d[n.y * w + n.x] < 0) {
        d[n.y * w + n.x] = d[c.y * w + c.x] + 1;
        queue.push_back(n);
      }
  }
  return d;
}

double euclidean(Cell a, Cell b) { return std::hypot(a.x - b.x, a.y - b.y); }

// Nearest free cell of the top-right 5x5 by Euclidean distance and by path steps.
double euclidean_to_region(const MazeLayout& l, Cell from) {
  double best = std::numeric_limits<double>::infinity();
  for (int y = 0; y < l.world_size; ++y)
    for (int x = 0; x < l.world_size; ++x)
      if (l.is_free({x, y}) && in_top_right_region(l, {x, y}, 5)) best = std::min(best, euclidean(from, {x, y}));
  return best;
}
double steps_to_region(const MazeLayout& l, Cell from) {
  const std::vector<int> d = steps_from(l, from);
  int best = std::numeric_limits<int>::max();
  for (int y = 0; y < l.world_size; ++y)
    for (int x = 0; x < l.world_size; ++x)
      if (in_top_right_region(l, {x, y}, 5) && d[y * l.world_size + x] >= 0)
        best = std::min(best, d[y * l.world_size + x]);
  return best == std::numeric_limits<int>::max() ? std::nan("") : best;
}

}  // namespace

bool cheese_in_top_right_region(const MazeLayout& layout, int n) {
  return layout.has_cheese() && in_top_right_region(layout, layout.cheese, n);
}

const std::vector<std::string>& ReferenceFeatures::names() {
  static const std::vector<std::string> names = {"steps_between_cheese_5x5",
                                                 "euc_dist_cheese_5x5",
                                                 "steps_between_decision_square_5x5",
                                                 "euc_dist_decision_square_5x5",
                                                 "steps_between_cheese_top_right",
                                                 "euc_dist_cheese_top_right",
                                                 "steps_between_decision_square_top_right",
                                                 "euc_dist_decision_square_top_right",
                                                 "steps_between_cheese_decision_square",
                                                 "euc_dist_cheese_decision_square",
                                                 "cheese_coord_norm"};
  return names;
}

ReferenceFeatures reference_features(const MazeLayout& l) {
  const auto square = find_decision_square(l);
  if (!square) throw std::logic_error("reference_features: maze without a decision square");
  const Cell ds = square->cell, cheese = l.cheese, corner = l.top_right();
  const int w = l.world_size;
  const std::vector<int> from_cheese = steps_from(l, cheese);
  ReferenceFeatures f;
  f.values = {steps_to_region(l, cheese),
              euclidean_to_region(l, cheese),
              steps_to_region(l, ds),
              euclidean_to_region(l, ds),
              static_cast<double>(from_cheese[corner.y * w + corner.x]),
              euclidean(cheese, corner),
              static_cast<double>(steps_from(l, ds)[corner.y * w + corner.x]),
              euclidean(ds, corner),
              static_cast<double>(from_cheese[ds.y * w + ds.x]),
              euclidean(cheese, ds),
              std::hypot(cheese.x, cheese.y)};
  return f;
}

ReferenceMazes draw_reference_mazes(const maze::MazeConfig& config, int64_t episodes, int64_t range, uint64_t seed) {
  ReferenceMazes out;
  for (const uint32_t level : draw_level_seeds(episodes, range, seed)) {
    ++out.drawn;
    // Every size: the run's env.min_maze_size / env.max_maze_size do not filter here.
    MazeLayout layout = maze::generate_maze(level, config.world_size, config.placement);
    const bool outside = !config.keeps_maze_dim(layout.maze_dim);
    out.drawn_outside_training_sizes += outside;
    if (!find_decision_square(layout)) {
      ++out.without_decision_square;
    } else if (cheese_in_top_right_region(layout, 5)) {
      ++out.cheese_in_top_right_5x5;
    } else {
      out.kept_outside_training_sizes += outside;
      out.kept.push_back(std::move(layout));
    }
  }
  return out;
}

}  // namespace shardlab::analysis
