#include "core/significance.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "core/statistics.h"

namespace shardlab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Two-sided p from the upper tail of the standard normal at |z|.
double normal_two_sided_p(double z) {
  const boost::math::normal standard;
  return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(standard, std::fabs(z))));
}

// Exact two-sided p of the signed-rank statistic W+ for n untied non-zero differences: the number
// of sign patterns with each rank sum, by dynamic programming over the ranks 1..n.
double exact_signed_rank_p(double w_plus, int n) {
  const int max_sum = n * (n + 1) / 2;
  std::vector<double> ways(static_cast<size_t>(max_sum) + 1, 0.0);
  ways[0] = 1.0;
  for (int rank = 1; rank <= n; ++rank)
    for (int s = max_sum; s >= rank; --s) ways[static_cast<size_t>(s)] += ways[static_cast<size_t>(s - rank)];
  const double total = std::ldexp(1.0, n);
  // The distribution is symmetric about max_sum / 2: double the smaller tail.
  const double w = std::min(w_plus, max_sum - w_plus);
  double tail = 0;
  for (int s = 0; s <= static_cast<int>(std::floor(w + 1e-9)); ++s) tail += ways[static_cast<size_t>(s)];
  return std::min(1.0, 2.0 * tail / total);
}

}  // namespace

std::vector<double> average_ranks(const std::vector<double>& values) {
  const size_t n = values.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(n, 0.0);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && values[order[j + 1]] == values[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + j) + 1.0;  // ranks i+1 .. j+1, averaged
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double wilcoxon_signed_rank_p(const std::vector<double>& differences) {
  std::vector<double> d;
  for (double x : differences)
    if (std::isfinite(x) && x != 0.0) d.push_back(x);
  const int n = static_cast<int>(d.size());
  if (n == 0) return 1.0;
  std::vector<double> magnitudes(d.size());
  std::transform(d.begin(), d.end(), magnitudes.begin(), [](double x) { return std::fabs(x); });
  const std::vector<double> ranks = average_ranks(magnitudes);
  double w_plus = 0;
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i] > 0) w_plus += ranks[i];
  // Tie groups: sizes of runs of equal magnitudes.
  std::vector<double> sorted = magnitudes;
  std::sort(sorted.begin(), sorted.end());
  double tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i + 1);
    if (t > 1) ties = true;
    tie_term += t * t * t - t;
    i = j + 1;
  }
  if (!ties && n <= 25) return exact_signed_rank_p(w_plus, n);
  const double mean = n * (n + 1) / 4.0;
  const double variance = n * (n + 1) * (2.0 * n + 1) / 24.0 - tie_term / 48.0;
  if (variance <= 0) return 1.0;
  const double deviation = std::max(0.0, std::fabs(w_plus - mean) - 0.5);  // continuity correction
  return normal_two_sided_p(deviation / std::sqrt(variance));
}

double one_sample_t_p(const std::vector<double>& values) {
  const std::vector<double> v = finite_values(values);
  if (v.size() < 2) return kNaN;
  const double n = static_cast<double>(v.size());
  const double mean = finite_mean(v);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / (n - 1));
  if (sd == 0) return mean == 0 ? 1.0 : 0.0;
  const double t = mean / (sd / std::sqrt(n));
  const boost::math::students_t dist(n - 1);
  return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t))));
}

std::vector<double> holm_adjusted(const std::vector<double>& p_values) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p_values.size(); ++i)
    if (std::isfinite(p_values[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(p_values.size(), kNaN);
  const double m = static_cast<double>(order.size());
  double running = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    running = std::max(running, std::min(1.0, (m - static_cast<double>(k)) * p_values[order[k]]));
    adjusted[order[k]] = running;
  }
  return adjusted;
}

double quantile(const std::vector<double>& values, double q) {
  std::vector<double> v = finite_values(values);
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double position = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, v.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return v[below] + fraction * (v[above] - v[below]);
}

Interval bootstrap_interval(size_t n, const std::function<double(const std::vector<size_t>&)>& statistic, int draws,
                            uint64_t seed) {
  if (n == 0 || draws <= 0) return {};
  Rng rng(seed);
  std::vector<double> stats;
  stats.reserve(static_cast<size_t>(draws));
  std::vector<size_t> sample(n);
  for (int b = 0; b < draws; ++b) {
    for (size_t& i : sample) i = static_cast<size_t>(rng.uniform_u64(n));
    const double s = statistic(sample);
    if (std::isfinite(s)) stats.push_back(s);
  }
  return {quantile(stats, 0.025), quantile(stats, 0.975)};
}

Interval bootstrap_mean_interval(const std::vector<double>& values, int draws, uint64_t seed) {
  const std::vector<double> v = finite_values(values);
  return bootstrap_interval(
      v.size(),
      [&](const std::vector<size_t>& sample) {
        double sum = 0;
        for (size_t i : sample) sum += v[i];
        return sum / static_cast<double>(sample.size());
      },
      draws, seed);
}

double empirical_p_greater(double observed, const std::vector<double>& null) {
  const std::vector<double> v = finite_values(null);
  const auto at_least = std::count_if(v.begin(), v.end(), [&](double x) { return x >= observed; });
  return (1.0 + static_cast<double>(at_least)) / (1.0 + static_cast<double>(v.size()));
}

double empirical_p_less(double observed, const std::vector<double>& null) {
  const std::vector<double> v = finite_values(null);
  const auto at_most = std::count_if(v.begin(), v.end(), [&](double x) { return x <= observed; });
  return (1.0 + static_cast<double>(at_most)) / (1.0 + static_cast<double>(v.size()));
}

double kendalls_w(const std::vector<std::vector<double>>& scores) {
  const size_t m = scores.size();
  if (m < 2) return kNaN;
  const size_t n = scores[0].size();
  for (const auto& row : scores)
    if (row.size() != n) throw InputError("Kendall's W: every rater must score the same items");
  if (n < 2) return kNaN;
  std::vector<double> rank_sums(n, 0.0);
  double tie_correction = 0;  // sum over raters and tie groups of t^3 - t
  for (const auto& row : scores) {
    const std::vector<double> ranks = average_ranks(row);
    for (size_t i = 0; i < n; ++i) rank_sums[i] += ranks[i];
    std::vector<double> sorted = row;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j + 1 < n && sorted[j + 1] == sorted[i]) ++j;
      const double t = static_cast<double>(j - i + 1);
      tie_correction += t * t * t - t;
      i = j + 1;
    }
  }
  const double md = static_cast<double>(m), nd = static_cast<double>(n);
  const double mean_sum = md * (nd + 1) / 2.0;
  double s = 0;
  for (double r : rank_sums) s += (r - mean_sum) * (r - mean_sum);
  const double denominator = md * md * (nd * nd * nd - nd) - md * tie_correction;
  if (denominator <= 0) return kNaN;
  return 12.0 * s / denominator;
}

double kendalls_w_permutation_p(const std::vector<std::vector<double>>& scores, int permutations, uint64_t seed) {
  const double observed = kendalls_w(scores);
  if (!std::isfinite(observed) || permutations <= 0) return kNaN;
  Rng rng(seed);
  std::vector<std::vector<double>> shuffled = scores;
  int at_least = 0;
  for (int b = 0; b < permutations; ++b) {
    for (auto& row : shuffled) rng.shuffle(row);
    const double w = kendalls_w(shuffled);
    if (std::isfinite(w) && w >= observed - 1e-12) ++at_least;
  }
  return (1.0 + at_least) / (1.0 + permutations);
}

}  // namespace shardlab
