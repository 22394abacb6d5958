#include "analysis/channels.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/progress.h"

namespace shardlab::analysis {
namespace {

// Held-out R^2 of a ridge regression from features X to targets Y (columns), averaged over columns.
double ridge_r2(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int64_t train_rows, double lambda) {
  const int64_t n = x.rows(), test_rows = n - train_rows;
  if (train_rows < 2 || test_rows < 2) return std::nan("");
  Eigen::MatrixXd xb(n, x.cols() + 1);
  xb << x, Eigen::VectorXd::Ones(n);
  const Eigen::MatrixXd xt = xb.topRows(train_rows);
  Eigen::MatrixXd gram = xt.transpose() * xt;
  gram.diagonal().array() += lambda;
  const Eigen::MatrixXd beta = gram.ldlt().solve(xt.transpose() * y.topRows(train_rows));
  const Eigen::MatrixXd pred = xb.bottomRows(test_rows) * beta;
  const Eigen::MatrixXd truth = y.bottomRows(test_rows);
  double r2 = 0;
  for (int64_t j = 0; j < y.cols(); ++j) {
    const double mean = truth.col(j).mean();
    const double ss_tot = (truth.col(j).array() - mean).square().sum();
    const double ss_res = (truth.col(j) - pred.col(j)).squaredNorm();
    r2 += ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  }
  return r2 / static_cast<double>(y.cols());
}

}  // namespace

std::vector<ChannelScore> rank_cheese_channels(const MazePolicy& policy, const std::string& layer,
                                               const std::vector<MazeLayout>& levels) {
  const auto shape = policy.layer_shape(layer);
  if (shape.size() != 3) throw InputError("layer " + layer + " is not spatial: channels need channels x h x w");
  std::vector<MazeLayout> mazes;
  for (const auto& l : levels)
    if (l.has_cheese()) mazes.push_back(l);
  if (mazes.size() < 10)
    throw InputError("--seeds: need at least 10 mazes with cheese to rank channels, got " +
                     std::to_string(mazes.size()));
  const int64_t n = static_cast<int64_t>(mazes.size()), c = shape[0], h = shape[1], w = shape[2];
  const at::Tensor acts = policy.activations(at_start(mazes), layer).to(torch::kFloat64).contiguous();
  auto a = acts.accessor<double, 4>();
  std::vector<std::pair<int64_t, int64_t>> cheese_pos;
  Eigen::MatrixXd target(n, 2);
  for (int64_t i = 0; i < n; ++i) {
    cheese_pos.push_back(policy.activation_position(layer, mazes[i].cheese));
    target(i, 0) = mazes[i].cheese.x;
    target(i, 1) = mazes[i].cheese.y;
  }
  const int64_t train_rows = n * 4 / 5;

  std::vector<ChannelScore> scores;
  Progress progress("channels");
  for (int64_t ch = 0; ch < c; ++ch) {
    progress.update(ch, c, "");
    ChannelScore s;
    s.channel = ch;
    double at_sum = 0, else_sum = 0;
    int64_t hits = 0, else_count = 0;
    Eigen::MatrixXd features(n, h * w);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best_r = 0, best_c = 0;
      for (int64_t r = 0; r < h; ++r)
        for (int64_t col = 0; col < w; ++col) {
          const double v = a[i][ch][r][col];
          features(i, r * w + col) = v;
          if (v > a[i][ch][best_r][best_c]) best_r = r, best_c = col;
          if (r == cheese_pos[i].first && col == cheese_pos[i].second) {
            at_sum += v;
          } else {
            else_sum += v;
            ++else_count;
          }
        }
      if (std::abs(best_r - cheese_pos[i].first) <= 1 && std::abs(best_c - cheese_pos[i].second) <= 1) ++hits;
    }
    s.peak_hit_rate = static_cast<double>(hits) / static_cast<double>(n);
    s.mean_at_cheese = at_sum / static_cast<double>(n);
    s.mean_elsewhere = else_count ? else_sum / static_cast<double>(else_count) : 0.0;
    s.probe_r2 = ridge_r2(features, target, train_rows, 1.0);
    scores.push_back(s);
  }
  progress.settle(c, c, "");
  std::stable_sort(scores.begin(), scores.end(), [](const ChannelScore& x, const ChannelScore& y) {
    if (x.peak_hit_rate != y.peak_hit_rate) return x.peak_hit_rate > y.peak_hit_rate;
    return x.probe_r2 > y.probe_r2;
  });
  return scores;
}

Protocol parse_protocol(const std::string& text) {
  if (text == "reference") return Protocol::kReference;
  if (text == "ours") return Protocol::kOurs;
  throw InputError("--protocol " + text + ": expected reference or ours");
}

const char* protocol_name(Protocol p) { return p == Protocol::kReference ? "reference" : "ours"; }

double vector_field_change_percent(const at::Tensor& original, const at::Tensor& patched) {
  const int64_t cells = original.size(0);
  if (cells == 0) return std::nan("");
  const at::Tensor moves = (patched - original).slice(1, 0, 4).to(torch::kFloat64);  // no-op has no arrow
  return 100.0 * moves.norm().item<double>() / static_cast<double>(cells) / 2.0;
}

}  // namespace shardlab::analysis
