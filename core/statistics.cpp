#include "core/statistics.h"

#include <cmath>
#include <cstdio>

namespace shardlab {

std::vector<double> finite_values(const std::vector<double>& values) {
  std::vector<double> out;
  for (double x : values)
    if (std::isfinite(x)) out.push_back(x);
  return out;
}

double finite_mean(const std::vector<double>& values) {
  const std::vector<double> v = finite_values(values);
  if (v.empty()) return std::nan("");
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double t_interval95(const std::vector<double>& values) {
  const std::vector<double> v = finite_values(values);
  const size_t n = v.size();
  if (n < 2) return 0.0;
  // Student t quantiles t(0.975, df) for df = 1..30; the normal 1.96 beyond.
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  const double mean = finite_mean(v);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n - 1));
  const double q = n - 1 <= 30 ? t[n - 2] : 1.96;
  return q * sd / std::sqrt(static_cast<double>(n));
}

std::string mean_and_interval_text(const std::vector<double>& values, int decimals) {
  const double mean = finite_mean(values);
  if (!std::isfinite(mean)) return "-";
  char b[96];
  std::snprintf(b, sizeof b, "%.*f ± %.*f", decimals, mean, decimals, t_interval95(values));
  return b;
}

std::string csv_number(double value) {
  if (!std::isfinite(value)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", value);
  return b;
}

std::vector<double> trailing_mean(const std::vector<double>& values, const std::vector<double>& weights, int window) {
  std::vector<double> out(values.size(), std::nan(""));
  for (size_t i = 0; i < values.size(); ++i) {
    double sum = 0, total = 0;
    for (size_t j = i + 1 > static_cast<size_t>(window) ? i + 1 - window : 0; j <= i; ++j) {
      const double w = weights.empty() ? 1.0 : weights[j];
      if (!std::isfinite(values[j]) || !std::isfinite(w)) continue;
      sum += values[j] * w, total += w;
    }
    if (total > 0) out[i] = sum / total;
  }
  return out;
}

}  // namespace shardlab
