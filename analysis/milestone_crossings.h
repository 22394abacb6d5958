// The statistics of the developmental-milestones study (analysis/milestones.h) on plain numbers, so
// that each design choice can be tested without a network:
// - a quantity's value at a milestone is a statistic of its units (episodes or mazes), kept so that
//   it can be resampled;
// - thresholds are relative to the untrained network (step 0), fixed by rule before the values are
//   seen: halfway from step 0's value to the final value, or K standard errors above step 0 (the SE
//   estimated at step 0 from its units);
// - a crossing counts only where the value is above the threshold at two consecutive milestones, so
//   a one-milestone blip is not a milestone; the untrained network cannot cross by construction;
// - the crossing step's interval comes from resampling the units behind every milestone's value and
//   finding the crossing again (thresholds recomputed from the resampled step 0 and final values);
// - crossings at the same step share a rank (ties averaged), never-crossed quantities rank last;
// - the order's agreement across runs is Kendall's W with a permutation p-value (core/significance.h).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "core/significance.h"

namespace shardlab::analysis {

// How a quantity's value at one milestone follows from its units.
enum class MilestoneStatistic {
  kMean,              // columns[0]: one value per unit (a 0/1 outcome, a probe's hit): their mean
  kMedianDifference,  // median(columns[0]) - median(columns[1]), per unit a pair (before, after)
  kR2,                // columns 0, 1: predicted x, y; 2, 3: true x, y. R^2, averaged over x and y
};

struct MilestoneSample {
  MilestoneStatistic statistic = MilestoneStatistic::kMean;
  std::vector<std::vector<double>> columns;  // each one value per unit
  int64_t units() const { return columns.empty() ? 0 : static_cast<int64_t>(columns[0].size()); }
};

// The statistic over the units `indices` (repeats allowed: a resample), or over every unit. NaN
// without units.
double sample_value(const MilestoneSample& sample, const std::vector<int64_t>& indices);
double sample_value(const MilestoneSample& sample);

// A rate as its episodes: round(rate * episodes) ones, the rest zeros (an evaluation keeps counts;
// for a mean of 0/1 outcomes the order of the units does not matter).
MilestoneSample rate_sample(double rate, int64_t episodes);

// The standard error of a sample's value: for 0/1 outcomes that of the proportion (k + 1) / (n + 2),
// so that an untrained network that never does a thing (k = 0) does not make one success
// significant; for other means s / sqrt(n); for other statistics the standard deviation of
// `draws` bootstrap resamples (seeded).
double standard_error(const MilestoneSample& sample, int64_t draws, uint64_t seed);

// One quantity over a run's milestones, in step order.
struct QuantitySeries {
  std::vector<MilestoneSample> samples;  // one per milestone
  // The same units (mazes) at every milestone: a resample draws one set of indices for all of
  // them. Episodes are fresh rollouts at each milestone: resampled apart.
  bool same_units = false;
};

enum class ThresholdRule { kHalfway, kStandardErrors };
const std::vector<ThresholdRule>& threshold_rules();
const char* rule_name(ThresholdRule rule);  // "halfway", "standard_errors"
std::string rule_meaning(ThresholdRule rule, double standard_errors);

struct Threshold {
  double value = 0;        // crossed where a value is above it (strictly)
  bool reachable = false;  // false: the quantity never crosses, whatever its path
};
// kHalfway: step0 + (final - step0) / 2, reachable when final - step0 > k * se (a rise within the
// noise has no halfway point worth naming). kStandardErrors: step0 + k * se, reachable when final
// is above it. Non-finite inputs: unreachable.
Threshold relative_threshold(ThresholdRule rule, double step0, double final_value, double se, double k);

// The first milestone i whose value and the next one's are both above the threshold; -1 if none
// (or the threshold is unreachable). The last milestone has no next one, so it never starts a crossing.
int64_t crossing_index(const std::vector<double>& values, const Threshold& threshold);

struct CrossingOptions {
  double standard_errors = 3;  // K of ThresholdRule::kStandardErrors (and the halfway rule's gate)
  int64_t draws = 1000;        // bootstrap resamples
  uint64_t seed = 0;
};

struct Crossing {
  Threshold threshold;
  int64_t index = -1;  // first crossing milestone; -1: never
  // 2.5 and 97.5 percentiles of the crossing milestone over the resamples, never-crossed resamples
  // counted as later than the last milestone: an index equal to the number of milestones is "never".
  int64_t lo_index = 0, hi_index = 0;
  int64_t never_draws = 0;  // resamples that never crossed
};

struct QuantityResult {
  std::vector<double> values;       // one per milestone
  std::vector<Interval> intervals;  // bootstrap 95% percentile interval of each value
  double step0_se = 0;
  std::vector<Crossing> crossings;  // one per threshold_rules()
};

// Values, intervals, thresholds and crossings of one quantity; `stream` separates the quantities'
// resamples (the same stream and seed give the same numbers).
QuantityResult analyze_quantity(const QuantitySeries& series, const CrossingOptions& options, uint64_t stream);

// Ranks of crossing indices (-1: never, ranked last and tied), 1 = first, ties averaged.
std::vector<double> crossing_ranks(const std::vector<int64_t>& indices, int64_t milestones);

// Kendall's W of the runs' crossing orders (rows: runs, columns: quantities, -1: never), with the
// permutation p-value (each run's ranks shuffled, seeded). NaN for fewer than two runs.
struct Agreement {
  double w = 0, p = 0;
  int64_t runs = 0, permutations = 0;
};
Agreement order_agreement(const std::vector<std::vector<int64_t>>& indices, int64_t milestones, int64_t permutations,
                          uint64_t seed);

// Nested selection of the best single cheese channel: each channel's map (rows: mazes, columns:
// positions) is scored by a ridge probe to the cheese's (x, y) trained on the first 80% of the fit
// mazes and tested on the rest of them; the best channel's probe is trained again on every fit maze
// and predicts the test mazes. The test mazes play no part in the choice.
struct ChannelChoice {
  int64_t channel = -1;
  double fit_r2 = 0;     // its held-out R^2 inside the fit split (what chose it)
  MilestoneSample test;  // kR2 over the test mazes: what is reported
};
ChannelChoice choose_cheese_channel(const std::vector<Eigen::MatrixXd>& fit_maps, const Eigen::MatrixXd& fit_cells,
                                    const std::vector<Eigen::MatrixXd>& test_maps, const Eigen::MatrixXd& test_cells);

// A whole-layer ridge probe for the cheese's cell, trained on the fit mazes: per test maze 1 when
// both rounded coordinates are within one cell of the cheese's (the channels study's "within one").
MilestoneSample cheese_probe_hits(const Eigen::MatrixXd& fit_acts, const Eigen::MatrixXd& fit_cells,
                                  const Eigen::MatrixXd& test_acts, const Eigen::MatrixXd& test_cells);

}  // namespace shardlab::analysis
