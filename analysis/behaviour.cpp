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

std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed,
                              int max_steps, CheeseJudgement judgement) {
  static constexpr int kDx[5] = {-1, 0, 0, 1, 0};
  static constexpr int kDy[5] = {0, -1, 1, 0, 0};
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const size_t n = levels.size();
  std::vector<bool> got(n, false), active(n, true);
  std::vector<Cell> mouse(n);
  for (size_t i = 0; i < n; ++i) mouse[i] = levels[i].start;
  if (max_steps <= 0) max_steps = policy.maze_config().max_episode_steps;
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
  if (judgement == CheeseJudgement::kReferenceLastStateNextToCheese)
    for (size_t i = 0; i < n; ++i)
      if (!got[i] && levels[i].has_cheese() &&
          std::abs(mouse[i].x - levels[i].cheese.x) + std::abs(mouse[i].y - levels[i].cheese.y) == 1)
        got[i] = true;
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

namespace {

// log(1 + exp(-m)) without overflow.
double log1p_exp_neg(double m) { return m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m)); }

// The rows of an L1-penalized logistic regression: X with a last column of ones (the intercept's
// weight is the last), labels s = +1/-1, C weighting the loss term against the penalty.
struct L1LogisticProblem {
  Eigen::MatrixXd X;
  Eigen::VectorXd s;
  std::vector<bool> penalized;
  double c = 0;
  int64_t n = 0, k = 0;

  double penalty(const Eigen::VectorXd& w) const {
    double p = 0;
    for (int64_t j = 0; j < k; ++j)
      if (penalized[j]) p += std::abs(w(j));
    return p;
  }
  double objective(const Eigen::VectorXd& w) const {
    const Eigen::VectorXd margin = s.cwiseProduct(X * w);
    double loss = 0;
    for (int64_t i = 0; i < n; ++i) loss += log1p_exp_neg(margin(i));
    return penalty(w) + c * loss;
  }
};

L1LogisticProblem l1_logistic_problem(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, double c,
                                      bool penalize_intercept) {
  L1LogisticProblem p;
  p.n = static_cast<int64_t>(x.size());
  const int64_t n = p.n, d = static_cast<int64_t>(x[0].size());
  p.k = d + 1;  // the last weight is the intercept
  p.c = c;
  p.X.resize(n, p.k);
  p.s.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) p.X(i, j) = x[i][j];
    p.X(i, d) = 1.0;
    p.s(i) = y[i] ? 1.0 : -1.0;
  }
  p.penalized.assign(p.k, true);
  p.penalized[d] = penalize_intercept;
  return p;
}

// Gradient and Hessian of the loss term around the current weights.
struct LossModel {
  Eigen::VectorXd g;
  Eigen::MatrixXd H;
};

LossModel loss_model(const L1LogisticProblem& p, const Eigen::VectorXd& w, double scale) {
  const Eigen::VectorXd margin = p.s.cwiseProduct(p.X * w);
  Eigen::VectorXd coef(p.n), curvature(p.n);
  for (int64_t i = 0; i < p.n; ++i) {
    const double sigma = 1.0 / (1.0 + std::exp(-margin(i)));  // P(the row's own label)
    coef(i) = p.c * (sigma - 1.0) * p.s(i);
    curvature(i) = p.c * sigma * (1.0 - sigma);
  }
  Eigen::VectorXd g = p.X.transpose() * coef;
  Eigen::MatrixXd H = p.X.transpose() * curvature.asDiagonal() * p.X;
  H.diagonal().array() += 1e-12 * scale;
  return {std::move(g), std::move(H)};
}

// Largest violation of the optimality conditions (minimum-norm subgradient).
double max_violation(const L1LogisticProblem& p, const Eigen::VectorXd& g, const Eigen::VectorXd& w) {
  double violation = 0;
  for (int64_t j = 0; j < p.k; ++j) {
    double v;
    if (!p.penalized[j])
      v = std::abs(g(j));
    else if (w(j) > 0)
      v = std::abs(g(j) + 1.0);
    else if (w(j) < 0)
      v = std::abs(g(j) - 1.0);
    else
      v = std::max(0.0, std::abs(g(j)) - 1.0);
    violation = std::max(violation, v);
  }
  return violation;
}

// Coordinate descent on the L1-penalized quadratic model of the loss around w: the step from w.
Eigen::VectorXd quadratic_model_step(const L1LogisticProblem& p, const LossModel& m, const Eigen::VectorXd& w) {
  const Eigen::VectorXd& g = m.g;
  const Eigen::MatrixXd& H = m.H;
  Eigen::VectorXd step = Eigen::VectorXd::Zero(p.k), h_step = Eigen::VectorXd::Zero(p.k);
  for (int sweep = 0; sweep < 1000; ++sweep) {
    double largest = 0;
    for (int64_t j = 0; j < p.k; ++j) {
      const double a = H(j, j), b = g(j) + h_step(j), u = w(j) + step(j);
      double z;
      if (!p.penalized[j])
        z = -b / a;
      else if (b + 1.0 < a * u)
        z = -(b + 1.0) / a;
      else if (b - 1.0 > a * u)
        z = -(b - 1.0) / a;
      else
        z = -u;
      if (z != 0) {
        step(j) += z;
        h_step += z * H.col(j);
        largest = std::max(largest, std::abs(z));
      }
    }
    if (largest < 1e-14 * (1.0 + step.cwiseAbs().maxCoeff())) break;
  }
  return step;
}

// Backtracking line search with liblinear's sufficient-decrease rule: moves w along the step and
// returns true, or leaves w and returns false when no fraction of the step decreases enough.
bool line_search(const L1LogisticProblem& p, const Eigen::VectorXd& g, const Eigen::VectorXd& step,
                 Eigen::VectorXd& w) {
  const double before = p.objective(w);
  const double predicted = g.dot(step) + p.penalty(w + step) - p.penalty(w);
  double t = 1.0;
  while (t > 1e-12) {
    const Eigen::VectorXd trial = w + t * step;
    if (p.objective(trial) <= before + 0.01 * t * predicted) {
      w = trial;
      return true;
    }
    t *= 0.5;
  }
  return false;
}

}  // namespace

L1Logistic fit_l1_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, double c,
                           bool penalize_intercept, double tolerance) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (n < 1 || static_cast<int64_t>(y.size()) != n) throw InputError("L1 logistic regression: no rows");
  if (!(c > 0)) throw InputError("L1 logistic regression: C must be positive");
  const L1LogisticProblem problem = l1_logistic_problem(x, y, c, penalize_intercept);
  const int64_t d = problem.k - 1;
  const double scale = c * static_cast<double>(n);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(problem.k);
  L1Logistic out;
  for (int iter = 0; iter < 500; ++iter) {
    const LossModel model = loss_model(problem, w, scale);
    const double violation = max_violation(problem, model.g, w);
    out.iterations = iter;
    out.max_violation = violation;
    if (violation <= tolerance * scale) break;
    const Eigen::VectorXd step = quadratic_model_step(problem, model, w);
    if (!line_search(problem, model.g, step, w)) break;  // no descent left at machine precision
  }
  out.coefficients.assign(w.data(), w.data() + d);
  out.intercept = w(d);
  return out;
}

SplitRegression repeated_split_regression(const std::vector<std::vector<double>>& x, const std::vector<bool>& y,
                                          const std::vector<std::string>& names, double c, int splits,
                                          double test_fraction, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(x.size()), d = static_cast<int64_t>(names.size());
  const int64_t test = static_cast<int64_t>(std::ceil(test_fraction * static_cast<double>(n)));
  if (splits < 1) throw InputError("--splits: expected at least 1");
  if (test < 1 || n - test < 2)
    throw InputError("logistic regression: " + std::to_string(n) + " mazes are too few for a " +
                     std::to_string(test_fraction) + " test split");
  // z-score over every row, as the notebook does before splitting.
  std::vector<std::vector<double>> z = x;
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i][j];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (x[i][j] - mean) * (x[i][j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i) z[i][j] = sd > 0 ? (x[i][j] - mean) / sd : 0.0;
  }
  SplitRegression r;
  r.names = names;
  r.rows = n;
  r.test = test;
  r.train = n - test;
  r.splits = splits;
  r.c = c;
  r.positive_rate = static_cast<double>(std::count(y.begin(), y.end(), true)) / static_cast<double>(n);
  std::vector<std::vector<double>> coefficients(d);
  std::vector<double> accuracies;
  r.nonzero_splits.assign(d, 0);
  Rng rng(seed);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int split = 0; split < splits; ++split) {
    rng.shuffle(order);
    std::vector<std::vector<double>> xt;
    std::vector<bool> yt;
    for (int64_t i = test; i < n; ++i) {
      xt.push_back(z[order[i]]);
      yt.push_back(y[order[i]]);
    }
    const L1Logistic fit = fit_l1_logistic(xt, yt, c);
    const bool majority = 2 * std::count(yt.begin(), yt.end(), true) >= static_cast<int64_t>(yt.size());
    int64_t right = 0, majority_right = 0;
    for (int64_t i = 0; i < test; ++i) {
      double score = fit.intercept;
      for (int64_t j = 0; j < d; ++j) score += fit.coefficients[j] * z[order[i]][j];
      right += (score > 0) == y[order[i]];
      majority_right += majority == y[order[i]];
    }
    accuracies.push_back(static_cast<double>(right) / static_cast<double>(test));
    r.mean_majority_baseline += static_cast<double>(majority_right) / static_cast<double>(test) / splits;
    r.mean_intercept += fit.intercept / splits;
    for (int64_t j = 0; j < d; ++j) {
      coefficients[j].push_back(fit.coefficients[j]);
      r.nonzero_splits[j] += fit.coefficients[j] != 0.0;
    }
  }
  const auto mean_sd = [](const std::vector<double>& v) {
    double m = 0, ss = 0;
    for (double a : v) m += a;
    m /= static_cast<double>(v.size());
    for (double a : v) ss += (a - m) * (a - m);
    return std::make_pair(m, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0);
  };
  std::tie(r.mean_test_accuracy, r.sd_test_accuracy) = mean_sd(accuracies);
  for (int64_t j = 0; j < d; ++j) {
    const auto [m, sd] = mean_sd(coefficients[j]);
    r.mean_coefficients.push_back(m);
    r.sd_coefficients.push_back(sd);
  }
  return r;
}

}  // namespace shardlab::analysis
