// core/significance: each test and interval against a case worked by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/significance.h"

namespace shardlab {
namespace {

TEST(Significance, SignedRankIsExactForSmallUntiedSamples) {
  // Ranks 1..8, one negative (rank 1): W- = 1, and 2 of the 256 sign patterns have a sum <= 1.
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank_p({-1, 2, 3, 4, 5, 6, 7, 8}), 2.0 * 2.0 / 256.0);
  // All five positive: the one most extreme pattern on each side, 2/32.
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank_p({1, 2, 3, 4, 5}), 2.0 / 32.0);
  // Zeros are dropped; nothing left means no evidence.
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank_p({0, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(wilcoxon_signed_rank_p({0, 1, 2, 3, 4, 5}), 2.0 / 32.0);
}

TEST(Significance, SignedRankWithTiesUsesTheCorrectedNormal) {
  // Twelve tied magnitudes, ten positive: W+ = 65, mean 39, variance 162.5 - 1716/48 = 126.75,
  // z = (26 - 0.5) / sqrt(126.75).
  std::vector<double> d(10, 1.0);
  d.push_back(-1.0);
  d.push_back(-1.0);
  EXPECT_NEAR(wilcoxon_signed_rank_p(d), 0.0235133, 1e-6);
}

TEST(Significance, OneSampleTTest) {
  // 1..5: t = 3 / (sqrt(2.5) / sqrt(5)) = 4.2426 on 4 degrees of freedom.
  EXPECT_NEAR(one_sample_t_p({1, 2, 3, 4, 5}), 0.0132356, 1e-6);
  EXPECT_DOUBLE_EQ(one_sample_t_p({0, 0, 0}), 1.0);
  EXPECT_DOUBLE_EQ(one_sample_t_p({2, 2, 2}), 0.0);
  EXPECT_TRUE(std::isnan(one_sample_t_p({1})));
}

TEST(Significance, HolmAdjustsInTheInputsOrder) {
  // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06.
  const std::vector<double> adjusted = holm_adjusted({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-12);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-12);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-12);
  EXPECT_NEAR(adjusted[3], 0.02, 1e-12);
  const std::vector<double> with_nan = holm_adjusted({0.5, NAN, 0.9});
  EXPECT_TRUE(std::isnan(with_nan[1]));
  EXPECT_DOUBLE_EQ(with_nan[0], 1.0);  // 2 * 0.5, capped
  EXPECT_DOUBLE_EQ(with_nan[2], 1.0);
}

TEST(Significance, QuantilesRanksAndEmpiricalPValues) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0), 4.0);
  EXPECT_EQ(average_ranks({10, 20, 20, 30}), (std::vector<double>{1, 2.5, 2.5, 4}));
  const std::vector<double> null = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_DOUBLE_EQ(empirical_p_greater(10, null), 0.1);
  EXPECT_DOUBLE_EQ(empirical_p_greater(0, null), 1.0);
  EXPECT_DOUBLE_EQ(empirical_p_less(0, null), 0.1);
}

TEST(Significance, BootstrapIntervalsAreSeededAndCoverTheMean) {
  std::vector<double> v;
  for (int i = 0; i < 50; ++i) v.push_back(std::sin(i * 1.7));
  double mean = 0;
  for (double x : v) mean += x / 50.0;
  const Interval a = bootstrap_mean_interval(v, 2000, 7);
  const Interval b = bootstrap_mean_interval(v, 2000, 7);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_LT(a.lo, mean);
  EXPECT_GT(a.hi, mean);
  EXPECT_LT(a.hi - a.lo, 0.6);  // about 4 standard errors of 0.1
  const Interval constant = bootstrap_mean_interval({3, 3, 3}, 100, 1);
  EXPECT_DOUBLE_EQ(constant.lo, 3.0);
  EXPECT_DOUBLE_EQ(constant.hi, 3.0);
  EXPECT_TRUE(std::isnan(bootstrap_mean_interval({}, 100, 1).lo));
}

TEST(Significance, KendallsWMeasuresAgreementOfOrders) {
  EXPECT_DOUBLE_EQ(kendalls_w({{1, 2, 3, 4}, {10, 20, 30, 40}, {0.1, 0.2, 0.3, 0.4}}), 1.0);
  EXPECT_NEAR(kendalls_w({{1, 2, 3, 4}, {4, 3, 2, 1}}), 0.0, 1e-12);
  // Ties: two raters agree, the third ties everything; rank sums 4, 6, 8 around 6, S = 8;
  // W = 12 * 8 / (9 * 24 - 3 * 24) = 2/3.
  EXPECT_NEAR(kendalls_w({{1, 2, 3}, {1, 2, 3}, {5, 5, 5}}), 2.0 / 3.0, 1e-12);
  EXPECT_THROW(kendalls_w({{1, 2}, {1, 2, 3}}), InputError);
  // A shared order among five raters is far beyond shuffled orders; independent ones are not.
  const std::vector<std::vector<double>> agree(5, std::vector<double>{1, 2, 3, 4, 5, 6});
  EXPECT_LT(kendalls_w_permutation_p(agree, 500, 3), 0.01);
  const std::vector<std::vector<double>> disagree = {
      {1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1}, {3, 1, 6, 2, 5, 4}, {4, 6, 1, 5, 2, 3}};
  EXPECT_GT(kendalls_w_permutation_p(disagree, 500, 3), 0.2);
}

}  // namespace
}  // namespace shardlab
