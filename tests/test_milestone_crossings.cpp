// The milestones study's design on numbers (analysis/milestone_crossings.h): relative thresholds,
// crossings held for two milestones, bootstrap intervals, tied ranks, Kendall's W across runs and
// the nested channel choice. No network.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "analysis/milestone_crossings.h"
#include "analysis/ridge.h"
#include "core/rng.h"

namespace shardlab {
namespace {

using analysis::analyze_quantity;
using analysis::crossing_index;
using analysis::CrossingOptions;
using analysis::MilestoneSample;
using analysis::QuantitySeries;
using analysis::relative_threshold;
using analysis::ThresholdRule;

constexpr int64_t kMilestones = 16;

// A quantity that steps from 0.2 to 0.8 at milestone `rise`: 100 units per milestone, each the level
// plus Gaussian noise (sd `noise`).
QuantitySeries stepped(int64_t rise, double noise, uint64_t seed) {
  std::mt19937 gen(static_cast<uint32_t>(seed));
  std::normal_distribution<double> n(0, noise);
  QuantitySeries s;
  for (int64_t i = 0; i < kMilestones; ++i) {
    MilestoneSample m;
    m.columns.emplace_back();
    for (int u = 0; u < 100; ++u) m.columns[0].push_back((i >= rise ? 0.8 : 0.2) + n(gen));
    s.samples.push_back(m);
  }
  return s;
}

CrossingOptions crossing_options(int64_t draws = 200) {
  CrossingOptions o;
  o.draws = draws;
  o.seed = 7;
  return o;
}

TEST(MilestoneCrossings, ABlipAtOneMilestoneIsNotACrossing) {
  const analysis::Threshold t{0.5, true};
  EXPECT_EQ(crossing_index({0, 0, 1, 0, 0, 1, 1, 1}, t), 5);  // the single milestone at 2 does not count
  EXPECT_EQ(crossing_index({0, 1, 0, 1, 0, 1}, t), -1);       // never two in a row
  EXPECT_EQ(crossing_index({0, 0, 0, 0, 1}, t), -1);          // the last milestone alone is not held
  EXPECT_EQ(crossing_index({0, 0.5, 0.6, 0.7}, t), 2);        // above, not at: 0.5 does not cross 0.5
}

TEST(MilestoneCrossings, ThresholdsAreRelativeToStepZeroAndTheFinalValue) {
  const auto half = relative_threshold(ThresholdRule::kHalfway, 0.4, 0.8, 0.01, 3);
  EXPECT_DOUBLE_EQ(half.value, 0.6);
  EXPECT_TRUE(half.reachable);
  const auto se = relative_threshold(ThresholdRule::kStandardErrors, 0.4, 0.8, 0.05, 3);
  EXPECT_DOUBLE_EQ(se.value, 0.55);
  EXPECT_TRUE(se.reachable);
  // A rise within the noise has no halfway point and no K-SE crossing: never, not a step.
  EXPECT_FALSE(relative_threshold(ThresholdRule::kHalfway, 0.4, 0.5, 0.05, 3).reachable);
  EXPECT_FALSE(relative_threshold(ThresholdRule::kStandardErrors, 0.4, 0.5, 0.05, 3).reachable);
  // Up and back down: the final value is step 0's, so the quantity never crosses.
  const auto gone = relative_threshold(ThresholdRule::kHalfway, 0.3, 0.3, 0.01, 3);
  EXPECT_EQ(crossing_index({0.3, 0.9, 0.9, 0.9, 0.3}, gone), -1);
}

TEST(MilestoneCrossings, TheUntrainedNetworkCannotCrossByConstruction) {
  // Whatever the values, step 0 is never above a threshold computed from it (both rules).
  Rng rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> v;
    for (int i = 0; i < 6; ++i) v.push_back(rng.uniform01() * (i == 0 ? 2.0 : 1.0));  // step 0 often highest
    for (ThresholdRule rule : analysis::threshold_rules()) {
      const auto t = relative_threshold(rule, v.front(), v.back(), 0.1 * rng.uniform01(), 3);
      EXPECT_NE(crossing_index(v, t), 0) << "trial " << trial;
    }
  }
  // A network that never reaches the corner at step 0 (0 of 200) does not make one success a
  // milestone: the proportion's SE is taken at (k + 1) / (n + 2).
  const MilestoneSample never = analysis::rate_sample(0.0, 200);
  const double se = analysis::standard_error(never, 100, 1);
  EXPECT_NEAR(se, std::sqrt((1.0 / 202) * (201.0 / 202) / 200), 1e-12);
  EXPECT_FALSE(relative_threshold(ThresholdRule::kStandardErrors, 0, 1.0 / 200, se, 3).reachable);
}

TEST(MilestoneCrossings, APlantedOrderIsRecoveredWithIntervals) {
  const std::vector<int64_t> planted = {2, 5, 5, 9, 12};
  std::vector<std::vector<int64_t>> crossings(2);
  for (size_t q = 0; q < planted.size(); ++q) {
    const auto r = analyze_quantity(stepped(planted[q], 0.1, q), crossing_options(), q);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(r.crossings[k].index, planted[q]) << "quantity " << q << " rule " << k;
      EXPECT_LE(r.crossings[k].lo_index, planted[q]);
      EXPECT_GE(r.crossings[k].hi_index, planted[q]);
      EXPECT_EQ(r.crossings[k].never_draws, 0);
      crossings[k].push_back(r.crossings[k].index);
    }
    // Step 0's 95% interval: about the mean of 100 units of sd 0.1 plus or minus 2 x 0.01.
    EXPECT_LT(r.intervals[0].lo, r.values[0]);
    EXPECT_GT(r.intervals[0].hi, r.values[0]);
    EXPECT_NEAR(r.intervals[0].hi - r.intervals[0].lo, 0.04, 0.015);
  }
  crossings[0].push_back(-1);  // a sixth quantity that never crosses: last
  // Ties share their rank, in no order of the list.
  EXPECT_EQ(analysis::crossing_ranks(crossings[0], kMilestones), (std::vector<double>{1, 2.5, 2.5, 4, 5, 6}));
  EXPECT_EQ(analysis::crossing_ranks({3, -1, 3, -1}, kMilestones), (std::vector<double>{1.5, 3.5, 1.5, 3.5}));
}

TEST(MilestoneCrossings, BootstrapIntervalsWidenWithNoiseAndCountNeverCrossedResamples) {
  const auto quiet = analyze_quantity(stepped(6, 0.1, 1), crossing_options(), 1);
  const auto noisy = analyze_quantity(stepped(6, 2.0, 1), crossing_options(), 1);  // rise 0.6, SE of step 0 ~0.2
  EXPECT_EQ(quiet.crossings[0].lo_index, quiet.crossings[0].hi_index);
  EXPECT_GT(noisy.crossings[1].never_draws, 0);
  EXPECT_GT(noisy.crossings[1].hi_index - noisy.crossings[1].lo_index, 0);
  // Seeded: the same again.
  const auto again = analyze_quantity(stepped(6, 2.0, 1), crossing_options(), 1);
  EXPECT_EQ(again.crossings[1].never_draws, noisy.crossings[1].never_draws);
  EXPECT_EQ(again.intervals[3].lo, noisy.intervals[3].lo);
}

// Runs whose quantities cross at `order[r][q]` (planted milestones).
std::vector<std::vector<int64_t>> run_crossings(const std::vector<std::vector<int64_t>>& order) {
  std::vector<std::vector<int64_t>> out;
  for (size_t r = 0; r < order.size(); ++r) {
    out.emplace_back();
    for (size_t q = 0; q < order[r].size(); ++q)
      out.back().push_back(
          analyze_quantity(stepped(order[r][q], 0.1, 100 * r + q), crossing_options(50), q).crossings[0].index);
  }
  return out;
}

TEST(MilestoneCrossings, KendallsWIsNearOneForASharedOrderAndLowForARandomOne) {
  const std::vector<int64_t> steps = {2, 4, 6, 8, 10, 12};
  std::vector<std::vector<int64_t>> shared(4, steps), shuffled;
  std::swap(shared[3][4], shared[3][5]);  // one run swaps two neighbours
  const auto agree = analysis::order_agreement(run_crossings(shared), kMilestones, 2000, 3);
  EXPECT_GT(agree.w, 0.9);
  EXPECT_LT(agree.p, 0.01);
  Rng rng(5);
  for (int r = 0; r < 8; ++r) {
    shuffled.push_back(steps);
    rng.shuffle(shuffled.back());
  }
  const auto random = analysis::order_agreement(run_crossings(shuffled), kMilestones, 2000, 3);
  EXPECT_LT(random.w, 0.4);
  EXPECT_GT(random.p, 0.05);
  EXPECT_TRUE(std::isnan(analysis::order_agreement({steps}, kMilestones, 100, 3).w));  // one run: no W
}

// Channel maps over `rows` mazes: the first `informative` rows of `channel` encode the cheese's
// (x, y) linearly, everything else is noise.
std::vector<Eigen::MatrixXd> maps(const Eigen::MatrixXd& cells, int channel, int64_t informative, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<Eigen::MatrixXd> out;
  for (int c = 0; c < 4; ++c) {
    Eigen::MatrixXd m(cells.rows(), 9);
    for (int64_t i = 0; i < m.rows(); ++i)
      for (int j = 0; j < 9; ++j) m(i, j) = noise(gen);
    for (int64_t i = 0; c == channel && i < informative; ++i) {
      m(i, 0) = cells(i, 0) + 0.01 * noise(gen);
      m(i, 1) = cells(i, 1) + 0.01 * noise(gen);
    }
    out.push_back(m);
  }
  return out;
}

Eigen::MatrixXd random_cells(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> cell(1, 13);
  Eigen::MatrixXd cells(n, 2);
  for (int64_t i = 0; i < n; ++i) cells(i, 0) = cell(gen), cells(i, 1) = cell(gen);
  return cells;
}

TEST(MilestoneCrossings, NestedChannelChoiceNeverScoresOnTheFitSplit) {
  const Eigen::MatrixXd fit_cells = random_cells(100, 1), test_cells = random_cells(60, 2);
  // Channel 1 tracks the cheese on the fit mazes only, channel 2 on the test mazes only: choosing on
  // the test split would pick channel 2 and report R^2 near 1.
  std::vector<Eigen::MatrixXd> fit = maps(fit_cells, 1, 100, 3), test = maps(test_cells, 2, 60, 4);
  const auto choice = analysis::choose_cheese_channel(fit, fit_cells, test, test_cells);
  EXPECT_EQ(choice.channel, 1);
  EXPECT_GT(choice.fit_r2, 0.95);
  EXPECT_EQ(choice.test.units(), 60);  // scored on the test mazes, every one of them, nothing else
  EXPECT_LT(analysis::sample_value(choice.test), 0.2);
  // The test maps play no part in the choice; where channel 1 also tracks the cheese on the test
  // mazes, that is what the score shows.
  test = maps(test_cells, 1, 60, 5);
  const auto held = analysis::choose_cheese_channel(fit, fit_cells, test, test_cells);
  EXPECT_EQ(held.channel, 1);
  EXPECT_GT(analysis::sample_value(held.test), 0.95);
}

TEST(MilestoneCrossings, TheWholeLayerProbeIsTrainedOnFitMazesAndScoredOnTestMazes) {
  const Eigen::MatrixXd fit_cells = random_cells(150, 6), test_cells = random_cells(50, 7);
  const auto encoded = [](const Eigen::MatrixXd& cells, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<double> noise(0, 1);
    Eigen::MatrixXd a(cells.rows(), 20);
    for (int64_t i = 0; i < a.rows(); ++i)
      for (int j = 0; j < 20; ++j) a(i, j) = 0.01 * noise(gen);
    a.col(3) += 0.5 * cells.col(0);  // x and y, linearly, in two of the features
    a.col(7) -= (0.25 * cells.col(1)).array().matrix() + Eigen::VectorXd::Ones(cells.rows());
    return a;
  };
  const auto hits = analysis::cheese_probe_hits(encoded(fit_cells, 8), fit_cells, encoded(test_cells, 9), test_cells);
  EXPECT_EQ(hits.units(), 50);
  EXPECT_EQ(analysis::sample_value(hits), 1.0);
  // Unrelated activations: within one cell of a 13 x 13 range by guessing, about (3/13)^2.
  const Eigen::MatrixXd noise_fit = Eigen::MatrixXd::Random(150, 20), noise_test = Eigen::MatrixXd::Random(50, 20);
  EXPECT_LT(analysis::sample_value(analysis::cheese_probe_hits(noise_fit, fit_cells, noise_test, test_cells)), 0.3);
}

TEST(MilestoneCrossings, StatisticsOfTheUnits) {
  MilestoneSample rate = analysis::rate_sample(0.25, 8);
  EXPECT_EQ(rate.columns[0], (std::vector<double>{1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(analysis::sample_value(rate, {0, 0, 5, 6}), 0.5);  // a resample
  MilestoneSample pairs;
  pairs.statistic = analysis::MilestoneStatistic::kMedianDifference;
  pairs.columns = {{0.9, 0.8, 0.7, 0.1}, {0.2, 0.3, 0.1, 0.1}};
  EXPECT_DOUBLE_EQ(analysis::sample_value(pairs), 0.75 - 0.15);
  EXPECT_TRUE(std::isnan(analysis::sample_value(MilestoneSample{})));
}

TEST(MilestoneCrossings, RidgeGivesTheSameFitOverFeaturesAndOverRows) {
  // The two forms of the one ridge solver: more rows than features, and more features than rows.
  for (const auto& [rows, features] : std::vector<std::pair<int, int>>{{40, 7}, {7, 40}}) {
    const Eigen::MatrixXd x = Eigen::MatrixXd::Random(rows, features);
    const Eigen::MatrixXd y = Eigen::MatrixXd::Random(rows, 2);
    const Eigen::MatrixXd fit = analysis::ridge_fit(x, y, 0.5);
    Eigen::MatrixXd gram = x.transpose() * x;
    gram.diagonal().array() += 0.5;
    const Eigen::MatrixXd primal = gram.ldlt().solve(x.transpose() * y);
    EXPECT_LT((fit - primal).cwiseAbs().maxCoeff(), 1e-9) << rows << " x " << features;
  }
}

}  // namespace
}  // namespace shardlab
