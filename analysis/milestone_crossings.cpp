#include "analysis/milestone_crossings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "analysis/ridge.h"
#include "core/rng.h"

namespace shardlab::analysis {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kRidgeLambda = 1.0;  // as the channels study's probe

double median_of(const std::vector<double>& column, const std::vector<int64_t>& indices) {
  std::vector<double> v;
  v.reserve(indices.size());
  for (int64_t i : indices) v.push_back(column[i]);
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2) return upper;
  return 0.5 * (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
}

// R^2 of predicted against true coordinates over `indices`, averaged over x and y; a coordinate
// that does not vary counts 0 (as the channels study).
double r2_of(const MilestoneSample& s, const std::vector<int64_t>& indices) {
  double total = 0;
  for (int j = 0; j < 2; ++j) {
    const auto& predicted = s.columns[j];
    const auto& truth = s.columns[j + 2];
    double mean = 0;
    for (int64_t i : indices) mean += truth[i];
    mean /= static_cast<double>(indices.size());
    double ss_tot = 0, ss_res = 0;
    for (int64_t i : indices) {
      ss_tot += (truth[i] - mean) * (truth[i] - mean);
      ss_res += (truth[i] - predicted[i]) * (truth[i] - predicted[i]);
    }
    total += ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  }
  return total / 2;
}

std::vector<int64_t> resample(int64_t n, Rng& rng) {
  std::vector<int64_t> indices(static_cast<size_t>(n));
  for (auto& i : indices) i = static_cast<int64_t>(rng.uniform_u64(static_cast<uint64_t>(n)));
  return indices;
}

bool is_binary(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return v == 0.0 || v == 1.0; });
}

Eigen::MatrixXd with_intercept(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd out(x.rows(), x.cols() + 1);
  out << x, Eigen::VectorXd::Ones(x.rows());
  return out;
}

MilestoneSample r2_sample(const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& cells) {
  MilestoneSample s;
  s.statistic = MilestoneStatistic::kR2;
  for (int j = 0; j < 2; ++j)
    s.columns.emplace_back(predicted.col(j).data(), predicted.col(j).data() + predicted.rows());
  for (int j = 0; j < 2; ++j) s.columns.emplace_back(cells.col(j).data(), cells.col(j).data() + cells.rows());
  return s;
}

// The percentile of crossing indices, rounded outward to a milestone (lo down, hi up).
int64_t index_percentile(const std::vector<double>& indices, double q, bool up) {
  const double v = quantile(indices, q);
  return static_cast<int64_t>(up ? std::ceil(v - 1e-9) : std::floor(v + 1e-9));
}

}  // namespace

double sample_value(const MilestoneSample& sample, const std::vector<int64_t>& indices) {
  if (indices.empty()) return kNaN;
  switch (sample.statistic) {
    case MilestoneStatistic::kMean: {
      double sum = 0;
      for (int64_t i : indices) sum += sample.columns[0][i];
      return sum / static_cast<double>(indices.size());
    }
    case MilestoneStatistic::kMedianDifference:
      return median_of(sample.columns[0], indices) - median_of(sample.columns[1], indices);
    case MilestoneStatistic::kR2:
      return r2_of(sample, indices);
  }
  return kNaN;
}

double sample_value(const MilestoneSample& sample) {
  std::vector<int64_t> all(static_cast<size_t>(sample.units()));
  std::iota(all.begin(), all.end(), 0);
  return sample_value(sample, all);
}

MilestoneSample rate_sample(double rate, int64_t episodes) {
  const auto ones = static_cast<int64_t>(std::llround(rate * static_cast<double>(episodes)));
  MilestoneSample s;
  s.columns = {std::vector<double>(static_cast<size_t>(episodes), 0.0)};
  std::fill(s.columns[0].begin(), s.columns[0].begin() + std::clamp<int64_t>(ones, 0, episodes), 1.0);
  return s;
}

double standard_error(const MilestoneSample& sample, int64_t draws, uint64_t seed) {
  const int64_t n = sample.units();
  if (n < 2) return kNaN;
  const auto nd = static_cast<double>(n);
  if (sample.statistic == MilestoneStatistic::kMean) {
    const auto& v = sample.columns[0];
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / nd;
    if (is_binary(v)) {
      const double p = (mean * nd + 1) / (nd + 2);
      return std::sqrt(p * (1 - p) / nd);
    }
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    return std::sqrt(ss / (nd - 1) / nd);
  }
  Rng rng(seed);
  std::vector<double> values;
  for (int64_t d = 0; d < draws; ++d) values.push_back(sample_value(sample, resample(n, rng)));
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double ss = 0;
  for (double x : values) ss += (x - mean) * (x - mean);
  return values.size() > 1 ? std::sqrt(ss / static_cast<double>(values.size() - 1)) : kNaN;
}

const std::vector<ThresholdRule>& threshold_rules() {
  static const std::vector<ThresholdRule> rules = {ThresholdRule::kHalfway, ThresholdRule::kStandardErrors};
  return rules;
}

const char* rule_name(ThresholdRule rule) { return rule == ThresholdRule::kHalfway ? "halfway" : "standard_errors"; }

std::string rule_meaning(ThresholdRule rule, double standard_errors) {
  std::ostringstream k;
  k << standard_errors;
  if (rule == ThresholdRule::kHalfway)
    return "halfway from step 0's value to the final value; never crossed unless the final value is more than " +
           k.str() + " standard errors (step 0's) above step 0's";
  return k.str() + " standard errors (estimated at step 0 from its episodes or mazes) above step 0's value";
}

Threshold relative_threshold(ThresholdRule rule, double step0, double final_value, double se, double k) {
  Threshold t;
  if (!std::isfinite(step0) || !std::isfinite(final_value) || !std::isfinite(se)) return t;
  if (rule == ThresholdRule::kHalfway) {
    t.value = step0 + 0.5 * (final_value - step0);
    t.reachable = final_value - step0 > k * se;
  } else {
    t.value = step0 + k * se;
    t.reachable = final_value > t.value;
  }
  return t;
}

int64_t crossing_index(const std::vector<double>& values, const Threshold& threshold) {
  if (!threshold.reachable) return -1;
  for (size_t i = 0; i + 1 < values.size(); ++i)
    if (values[i] > threshold.value && values[i + 1] > threshold.value) return static_cast<int64_t>(i);
  return -1;
}

QuantityResult analyze_quantity(const QuantitySeries& series, const CrossingOptions& options, uint64_t stream) {
  const auto& samples = series.samples;
  const auto m = static_cast<int64_t>(samples.size());
  if (m == 0) throw std::logic_error("analyze_quantity: no milestones");
  if (series.same_units)
    for (const auto& s : samples)
      if (s.units() != samples[0].units()) throw std::logic_error("analyze_quantity: the same units differ in number");
  QuantityResult r;
  for (const auto& s : samples) r.values.push_back(sample_value(s));
  r.step0_se = standard_error(samples[0], options.draws, mix_seed(options.seed, 2 * stream + 1));
  const auto& rules = threshold_rules();
  for (ThresholdRule rule : rules) {
    Crossing c;
    c.threshold = relative_threshold(rule, r.values.front(), r.values.back(), r.step0_se, options.standard_errors);
    c.index = crossing_index(r.values, c.threshold);
    r.crossings.push_back(c);
  }
  // Every draw resamples every milestone's units and finds each rule's crossing again.
  Rng rng(mix_seed(options.seed, 2 * stream));
  std::vector<std::vector<double>> drawn(static_cast<size_t>(m));
  std::vector<std::vector<double>> crossing_draws(rules.size());
  std::vector<double> v(static_cast<size_t>(m));
  for (int64_t d = 0; d < options.draws; ++d) {
    const std::vector<int64_t> shared = series.same_units ? resample(samples[0].units(), rng) : std::vector<int64_t>{};
    for (int64_t i = 0; i < m; ++i) {
      v[i] = sample_value(samples[i], series.same_units ? shared : resample(samples[i].units(), rng));
      if (std::isfinite(v[i])) drawn[i].push_back(v[i]);
    }
    for (size_t k = 0; k < rules.size(); ++k) {
      const Threshold t = relative_threshold(rules[k], v.front(), v.back(), r.step0_se, options.standard_errors);
      const int64_t index = crossing_index(v, t);
      if (index < 0) ++r.crossings[k].never_draws;
      crossing_draws[k].push_back(static_cast<double>(index < 0 ? m : index));
    }
  }
  for (const auto& values : drawn)
    r.intervals.push_back(values.empty() ? Interval{kNaN, kNaN}
                                         : Interval{quantile(values, 0.025), quantile(values, 0.975)});
  for (size_t k = 0; k < rules.size(); ++k) {
    if (crossing_draws[k].empty()) {
      r.crossings[k].lo_index = r.crossings[k].hi_index = m;
      continue;
    }
    r.crossings[k].lo_index = index_percentile(crossing_draws[k], 0.025, false);
    r.crossings[k].hi_index = index_percentile(crossing_draws[k], 0.975, true);
  }
  return r;
}

std::vector<double> crossing_ranks(const std::vector<int64_t>& indices, int64_t milestones) {
  std::vector<double> keys;
  for (int64_t i : indices) keys.push_back(static_cast<double>(i < 0 ? milestones : i));
  return average_ranks(keys);
}

Agreement order_agreement(const std::vector<std::vector<int64_t>>& indices, int64_t milestones, int64_t permutations,
                          uint64_t seed) {
  Agreement a;
  a.runs = static_cast<int64_t>(indices.size());
  a.permutations = permutations;
  if (a.runs < 2) {
    a.w = a.p = kNaN;
    return a;
  }
  std::vector<std::vector<double>> scores;
  for (const auto& run : indices) {
    std::vector<double> row;
    for (int64_t i : run) row.push_back(static_cast<double>(i < 0 ? milestones : i));
    scores.push_back(row);
  }
  a.w = kendalls_w(scores);
  a.p = kendalls_w_permutation_p(scores, static_cast<int>(permutations), seed);
  return a;
}

ChannelChoice choose_cheese_channel(const std::vector<Eigen::MatrixXd>& fit_maps, const Eigen::MatrixXd& fit_cells,
                                    const std::vector<Eigen::MatrixXd>& test_maps, const Eigen::MatrixXd& test_cells) {
  const int64_t n = fit_cells.rows(), train = n * 4 / 5;
  if (train < 2 || n - train < 2) throw std::logic_error("choose_cheese_channel: too few fit mazes");
  ChannelChoice choice;
  choice.fit_r2 = -std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < fit_maps.size(); ++c) {
    const Eigen::MatrixXd x = with_intercept(fit_maps[c]);
    const Eigen::MatrixXd beta = ridge_fit(x.topRows(train), fit_cells.topRows(train), kRidgeLambda);
    const double r2 = sample_value(r2_sample(x.bottomRows(n - train) * beta, fit_cells.bottomRows(n - train)));
    if (r2 > choice.fit_r2) {
      choice.fit_r2 = r2;
      choice.channel = static_cast<int64_t>(c);
    }
  }
  if (choice.channel < 0) throw std::logic_error("choose_cheese_channel: no channel scored");
  const auto c = static_cast<size_t>(choice.channel);
  const Eigen::MatrixXd beta = ridge_fit(with_intercept(fit_maps[c]), fit_cells, kRidgeLambda);
  choice.test = r2_sample(with_intercept(test_maps[c]) * beta, test_cells);
  return choice;
}

MilestoneSample cheese_probe_hits(const Eigen::MatrixXd& fit_acts, const Eigen::MatrixXd& fit_cells,
                                  const Eigen::MatrixXd& test_acts, const Eigen::MatrixXd& test_cells) {
  const Eigen::MatrixXd beta = ridge_fit(with_intercept(fit_acts), fit_cells, kRidgeLambda);
  const Eigen::MatrixXd predicted = with_intercept(test_acts) * beta;
  MilestoneSample s;
  s.columns.emplace_back();
  for (int64_t i = 0; i < test_cells.rows(); ++i) {
    const double dx = std::abs(std::round(predicted(i, 0)) - test_cells(i, 0));
    const double dy = std::abs(std::round(predicted(i, 1)) - test_cells(i, 1));
    s.columns[0].push_back(dx <= 1 && dy <= 1 ? 1.0 : 0.0);
  }
  return s;
}

}  // namespace shardlab::analysis
