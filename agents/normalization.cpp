#include "agents/normalization.h"

#include <algorithm>
#include <cmath>

#include "agents/collective.h"

namespace shardlab {

void RunningMeanStd::update(const float* data, int64_t rows, const Collective& ranks) {
  if (rows <= 0) return;
  const size_t n = mean.size();
  if (ranks.distributed()) {
    if (!synced_) synced_ = Synced{mean, var, count, std::vector<double>(1 + 2 * n, 0.0)};
    std::vector<double>& m = synced_->moments;
    m[0] += static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t j = 0; j < n; ++j) {
        const double x = data[r * n + j];
        m[1 + j] += x;
        m[1 + n + j] += x * x;
      }
  }
  std::vector<double> batch_mean(n, 0.0), batch_var(n, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < n; ++j) batch_mean[j] += data[r * n + j];
  for (auto& m : batch_mean) m /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < n; ++j) {
      const double d = data[r * n + j] - batch_mean[j];
      batch_var[j] += d * d;
    }
  for (auto& v : batch_var) v /= static_cast<double>(rows);
  merge(batch_mean, batch_var, static_cast<double>(rows));
}

void RunningMeanStd::synchronize(const Collective& ranks) {
  if (!ranks.distributed()) return;
  const size_t n = mean.size();
  // A rank without rows since the last synchronize still takes part, with zeros.
  Synced synced = synced_ ? *synced_ : Synced{mean, var, count, std::vector<double>(1 + 2 * n, 0.0)};
  synced_.reset();
  std::vector<double>& m = synced.moments;
  ranks.sum(m);
  mean = synced.mean;
  var = synced.var;
  count = synced.count;
  const double rows = m[0];
  if (rows <= 0) return;
  std::vector<double> batch_mean(n), batch_var(n);
  for (size_t j = 0; j < n; ++j) {
    batch_mean[j] = m[1 + j] / rows;
    batch_var[j] = std::max(0.0, m[1 + n + j] / rows - batch_mean[j] * batch_mean[j]);
  }
  merge(batch_mean, batch_var, rows);
}

void RunningMeanStd::merge(const std::vector<double>& batch_mean, const std::vector<double>& batch_var, double rows) {
  const double total = count + rows;
  for (size_t j = 0; j < mean.size(); ++j) {
    const double delta = batch_mean[j] - mean[j];
    const double m2 = var[j] * count + batch_var[j] * rows + delta * delta * count * rows / total;
    mean[j] += delta * rows / total;
    var[j] = m2 / total;
  }
  count = total;
}

void RewardScaler::scale(float* rewards, const uint8_t* done, int num_envs, const Collective& ranks) {
  std::vector<float> returns(num_envs);
  for (int i = 0; i < num_envs; ++i) {
    returns_[i] = returns_[i] * gamma_ + rewards[i];
    returns[i] = static_cast<float>(returns_[i]);
  }
  stats.update(returns.data(), num_envs, ranks);
  const double scale = 1.0 / std::sqrt(stats.var[0] + 1e-8);
  for (int i = 0; i < num_envs; ++i) {
    rewards[i] = static_cast<float>(std::clamp(rewards[i] * scale, -clip_, clip_));
    if (done[i]) returns_[i] = 0.0;
  }
}

}  // namespace shardlab
