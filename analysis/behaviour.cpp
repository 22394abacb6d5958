#include "analysis/behaviour.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <cmath>

#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed) {
  static constexpr int kDx[5] = {-1, 0, 0, 1, 0};
  static constexpr int kDy[5] = {0, -1, 1, 0, 0};
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const size_t n = levels.size();
  std::vector<bool> got(n, false), active(n, true);
  std::vector<Cell> mouse(n);
  for (size_t i = 0; i < n; ++i) mouse[i] = levels[i].start;
  const int max_steps = policy.maze_config().max_episode_steps;
  Progress progress("behaviour");
  for (int t = 0; t < max_steps; ++t) {
    progress.update(t, max_steps, "steps of every maze's episode");
    std::vector<MazeInput> inputs;
    std::vector<size_t> which;
    for (size_t i = 0; i < n; ++i)
      if (active[i]) {
        inputs.push_back({levels[i], mouse[i]});
        which.push_back(i);
      }
    if (inputs.empty()) break;
    const at::Tensor moves = at::multinomial(policy.forward(inputs).probs, 1, true, gen).flatten();
    for (size_t j = 0; j < which.size(); ++j) {
      const size_t i = which[j];
      const int m = static_cast<int>(moves[static_cast<int64_t>(j)].item<int64_t>());
      const Cell next{mouse[i].x + kDx[m], mouse[i].y + kDy[m]};
      if (levels[i].is_free(next)) mouse[i] = next;
      if (mouse[i] == levels[i].cheese) {
        got[i] = true;
        active[i] = false;
      }
    }
  }
  progress.settle(max_steps, max_steps, "steps of every maze's episode");
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

}  // namespace shardlab::analysis
