// The reference's regression (behaviour.h): L1 logistic regression as liblinear solves it and the
// notebook's repeated random splits.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "analysis/behaviour.h"
#include "core/error.h"
#include "core/rng.h"

namespace shardlab::analysis {

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

// Gradient and Hessian of the loss term around the current weights; liblinear adds nu = 1e-12 to
// the Hessian's diagonal.
struct LossModel {
  Eigen::VectorXd g;
  Eigen::MatrixXd H;
};

LossModel loss_model(const L1LogisticProblem& p, const Eigen::VectorXd& w) {
  const Eigen::VectorXd margin = p.s.cwiseProduct(p.X * w);
  Eigen::VectorXd coef(p.n), curvature(p.n);
  for (int64_t i = 0; i < p.n; ++i) {
    const double sigma = 1.0 / (1.0 + std::exp(-margin(i)));  // P(the row's own label)
    coef(i) = p.c * (sigma - 1.0) * p.s(i);
    curvature(i) = p.c * sigma * (1.0 - sigma);
  }
  Eigen::VectorXd g = p.X.transpose() * coef;
  Eigen::MatrixXd H = p.X.transpose() * curvature.asDiagonal() * p.X;
  H.diagonal().array() += 1e-12;
  return {std::move(g), std::move(H)};
}

// One coordinate's violation of the optimality conditions (its minimum-norm subgradient), given
// the loss gradient g at weight w.
double violation(bool penalized, double g, double w) {
  if (!penalized) return std::abs(g);
  if (w > 0) return std::abs(g + 1.0);
  if (w < 0) return std::abs(g - 1.0);
  return std::max(0.0, std::abs(g) - 1.0);
}

struct Violations {
  double max = 0, sum = 0;
};
Violations violations(const L1LogisticProblem& p, const Eigen::VectorXd& g, const Eigen::VectorXd& w) {
  Violations v;
  for (int64_t j = 0; j < p.k; ++j) {
    const double a = violation(p.penalized[j], g(j), w(j));
    v.max = std::max(v.max, a);
    v.sum += a;
  }
  return v;
}

// Coordinate descent on the L1-penalized quadratic model of the loss around w, as liblinear's
// inner loop: sweeps until the summed violation of the coordinates that moved in a sweep is at most
// `inner_tolerance` (1000 sweeps at most); steps below 1e-12 are skipped, steps are clipped to
// [-10, 10].
struct ModelStep {
  Eigen::VectorXd step;
  int sweeps = 0;
  bool moved = false;
};
ModelStep quadratic_model_step(const L1LogisticProblem& p, const LossModel& m, const Eigen::VectorXd& w,
                               double inner_tolerance) {
  ModelStep out;
  out.step = Eigen::VectorXd::Zero(p.k);
  Eigen::VectorXd h_step = Eigen::VectorXd::Zero(p.k);  // H * step
  while (out.sweeps < 1000) {
    double moved_violation = 0;
    for (int64_t j = 0; j < p.k; ++j) {
      const double a = m.H(j, j), b = m.g(j) + h_step(j), u = w(j) + out.step(j);
      double z;
      if (!p.penalized[j])
        z = -b / a;
      else if (b + 1.0 < a * u)
        z = -(b + 1.0) / a;
      else if (b - 1.0 > a * u)
        z = -(b - 1.0) / a;
      else
        z = -u;
      if (std::abs(z) < 1e-12) continue;
      z = std::clamp(z, -10.0, 10.0);
      moved_violation += violation(p.penalized[j], b, u);
      out.moved = true;
      out.step(j) += z;
      h_step += z * m.H.col(j);
    }
    ++out.sweeps;
    if (moved_violation <= inner_tolerance) break;
  }
  return out;
}

// liblinear's line search: halves the step until the objective decreases by at least 0.01 of the
// model's predicted decrease, at most 20 times; moves w and returns true, or leaves it and returns
// false.
bool line_search(const L1LogisticProblem& p, const Eigen::VectorXd& g, Eigen::VectorXd step, Eigen::VectorXd& w) {
  const double before = p.objective(w);
  double predicted = g.dot(step) + p.penalty(w + step) - p.penalty(w);
  for (int halvings = 0; halvings < 20; ++halvings) {
    const Eigen::VectorXd trial = w + step;
    if (p.objective(trial) - before <= 0.01 * predicted) {
      w = trial;
      return true;
    }
    step *= 0.5;
    predicted *= 0.5;  // liblinear halves the predicted decrease with the step
  }
  return false;
}

}  // namespace

L1Logistic fit_l1_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, double c,
                           bool penalize_intercept, const L1LogisticSolver& solver) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (n < 1 || static_cast<int64_t>(y.size()) != n) throw InputError("L1 logistic regression: no rows");
  if (!(c > 0)) throw InputError("L1 logistic regression: C must be positive");
  if (!(solver.tolerance > 0) || solver.max_iterations < 1)
    throw InputError("L1 logistic regression: the tolerance and the iteration cap must be positive");
  const L1LogisticProblem problem = l1_logistic_problem(x, y, c, penalize_intercept);
  const int64_t d = problem.k - 1;
  // sklearn hands liblinear tol scaled by the minority class's share (linear.cpp, train_one).
  const int64_t positives = std::count(y.begin(), y.end(), true);
  const double eps = solver.tolerance * static_cast<double>(std::max<int64_t>(std::min(positives, n - positives), 1)) /
                     static_cast<double>(n);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(problem.k);
  double initial = 0, inner_eps = 1.0;
  int unmoved = 0;  // quadratic models in a row that moved nothing
  L1Logistic out;
  for (out.iterations = 0; out.iterations < solver.max_iterations; ++out.iterations) {
    const LossModel model = loss_model(problem, w);
    const double sum = violations(problem, model.g, w).sum;
    if (out.iterations == 0) initial = sum;
    if (sum <= eps * initial || unmoved >= 10) break;
    const ModelStep inner = quadratic_model_step(problem, model, w, inner_eps * initial);
    unmoved = inner.moved ? 0 : unmoved + 1;
    if (!line_search(problem, model.g, inner.step, w)) break;  // no descent left at machine precision
    if (inner.sweeps == 1) inner_eps *= 0.25;
  }
  out.max_violation = violations(problem, loss_model(problem, w).g, w).max;
  out.coefficients.assign(w.data(), w.data() + d);
  out.intercept = w(d);
  return out;
}

namespace {

// Each column z-scored over every row (population standard deviation, as scipy.stats.zscore; a
// constant column becomes 0), as the notebook does before splitting.
std::vector<std::vector<double>> zscore_columns(const std::vector<std::vector<double>>& x, int64_t d) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<std::vector<double>> z = x;
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i][j];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (x[i][j] - mean) * (x[i][j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i) z[i][j] = sd > 0 ? (x[i][j] - mean) / sd : 0.0;
  }
  return z;
}

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  double m = 0, ss = 0;
  for (double a : v) m += a;
  m /= static_cast<double>(v.size());
  for (double a : v) ss += (a - m) * (a - m);
  return {m, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0};
}

// The q-quantile of v (linear between order statistics, numpy's default).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double at = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(at)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (at - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

SplitRegression repeated_split_regression(const std::vector<std::vector<double>>& x, const std::vector<bool>& y,
                                          const std::vector<std::string>& names, double c, int splits,
                                          double test_fraction, uint64_t seed, const L1LogisticSolver& solver) {
  const int64_t n = static_cast<int64_t>(x.size()), d = static_cast<int64_t>(names.size());
  const int64_t test = static_cast<int64_t>(std::ceil(test_fraction * static_cast<double>(n)));
  if (splits < 1) throw InputError("--splits: expected at least 1");
  if (test < 1 || n - test < 2)
    throw InputError("logistic regression: " + std::to_string(n) + " mazes are too few for a " +
                     std::to_string(test_fraction) + " test split");
  const std::vector<std::vector<double>> z = zscore_columns(x, d);
  SplitRegression r;
  r.names = names;
  r.rows = n;
  r.test = test;
  r.train = n - test;
  r.splits = splits;
  r.c = c;
  r.solver = solver;
  r.positive_rate = static_cast<double>(std::count(y.begin(), y.end(), true)) / static_cast<double>(n);
  r.majority_baseline = std::max(r.positive_rate, 1.0 - r.positive_rate);  // the notebook's, over all rows
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
    const L1Logistic fit = fit_l1_logistic(xt, yt, c, true, solver);
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
    r.mean_iterations += static_cast<double>(fit.iterations) / splits;
    r.splits_at_iteration_cap += fit.iterations >= solver.max_iterations;
    for (int64_t j = 0; j < d; ++j) {
      coefficients[j].push_back(fit.coefficients[j]);
      r.nonzero_splits[j] += fit.coefficients[j] != 0.0;
    }
  }
  std::tie(r.mean_test_accuracy, r.sd_test_accuracy) = mean_sd(accuracies);
  r.test_accuracy_low = quantile(accuracies, 0.025);
  r.test_accuracy_high = quantile(accuracies, 0.975);
  for (int64_t j = 0; j < d; ++j) {
    const auto [m, sd] = mean_sd(coefficients[j]);
    r.mean_coefficients.push_back(m);
    r.sd_coefficients.push_back(sd);
  }
  return r;
}

}  // namespace shardlab::analysis
