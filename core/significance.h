// Tests and intervals the studies share, so that every study answers "is this more than chance?"
// the same way: Wilcoxon's signed-rank test and the one-sample t test (two-sided), Holm's
// correction for many tests, percentile bootstrap intervals, empirical p-values against a null
// sample, and Kendall's coefficient of concordance W with its permutation p-value. Distributions
// come from Boost.Math. Every resampling takes a seed: the same inputs and seed give the same
// interval.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace shardlab {

// A two-sided interval; NaN ends when it cannot be computed (no data).
struct Interval {
  double lo = std::numeric_limits<double>::quiet_NaN();
  double hi = std::numeric_limits<double>::quiet_NaN();
};

// Two-sided p-value of Wilcoxon's signed-rank test that the differences are symmetric about 0.
// Zero differences are dropped (Wilcoxon's convention); tied
// magnitudes share their average rank. Exact (enumerating the signed-rank distribution) for up to 25
// non-zero differences without ties; otherwise the normal approximation with the tie correction of
// the variance and a continuity correction (as R's wilcox.test). 1 when no difference is non-zero; NaN ones are
// ignored.
double wilcoxon_signed_rank_p(const std::vector<double>& differences);

// Two-sided p-value of the one-sample Student t test of mean 0 over the finite values. NaN for
// fewer than two; when every value is the same, 1 if it is 0 and 0 otherwise.
double one_sample_t_p(const std::vector<double>& values);

// Holm-Bonferroni adjusted p-values, in the input's order: reject hypothesis i at family-wise level
// a when adjusted[i] <= a. Monotone in the sorted order, capped at 1. NaN p-values stay NaN and do
// not count in the family.
std::vector<double> holm_adjusted(const std::vector<double>& p_values);

// The q-quantile (0 <= q <= 1) of the finite values, linear between order statistics (numpy's
// default); NaN when there are none.
double quantile(const std::vector<double>& values, double q);

// Percentile bootstrap 95% interval of `statistic` over `draws` resamples of the indices 0..n-1
// drawn with replacement (seeded). Resamples whose statistic is not finite are left out. NaN ends
// for n = 0.
Interval bootstrap_interval(size_t n, const std::function<double(const std::vector<size_t>&)>& statistic, int draws,
                            uint64_t seed);
// The same for the mean of the finite values.
Interval bootstrap_mean_interval(const std::vector<double>& values, int draws, uint64_t seed);

// One-sided empirical p-value of `observed` against a sample of a null distribution, with the
// +1 correction so that it is never 0: (1 + #{null >= observed}) / (1 + n). `empirical_p_less`
// counts null <= observed.
double empirical_p_greater(double observed, const std::vector<double>& null);
double empirical_p_less(double observed, const std::vector<double>& null);

// Ranks 1..n, ties sharing their average rank.
std::vector<double> average_ranks(const std::vector<double>& values);

// Kendall's coefficient of concordance W of m raters over the same n items: `scores[r][i]` is
// rater r's score of item i, ranked within each rater (ties averaged), with the tie correction.
// 1 = every rater orders the items alike, near 0 = no agreement. NaN for fewer than two raters or
// items, or when every rater ties every item. InputError when the rows differ in length.
double kendalls_w(const std::vector<std::vector<double>>& scores);
// Permutation p-value of W: the share of `permutations` draws (seeded), each rater's scores
// shuffled independently, whose W is at least the observed one, with the +1 correction.
double kendalls_w_permutation_p(const std::vector<std::vector<double>>& scores, int permutations, uint64_t seed);

}  // namespace shardlab
