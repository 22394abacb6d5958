// The held-out design of `analyze steering-compare` (issue 30), written apart from any network so
// that tests can plant a known answer in synthetic activations.
//
// The mazes with a decision square are dealt into three disjoint splits by a seeded shuffle:
//  - fit: the steering directions are built from these mazes' activations only (one contrast
//    pair, the mean difference, a logistic-regression probe; random directions for the null),
//    and so is each direction's scale, the standard deviation of the activations along it
//    (inference-time intervention, ITI: the shift is alpha standard deviations);
//  - validation: each direction's alpha is chosen here from a grid, the one with the largest mean
//    drop of P(cheese | decision square);
//  - test: every direction is scored here, and only here, and the methods are compared maze by
//    maze (Wilcoxon signed-rank, Holm-corrected; paired bootstrap intervals).
// A direction carries the mazes it was fitted on and its alpha the mazes it was chosen on, and
// `choose_alpha` and `score_on_test` refuse (std::logic_error: a bug in the study, not bad input)
// any maze that served in an earlier role: a method cannot be scored on its own training mazes.
#pragma once

#include <ATen/Tensor.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/significance.h"

namespace shardlab::analysis {

struct LinearProbe;

// ---- splits

struct SplitFractions {
  double fit = 0.4, validation = 0.2, test = 0.4;
};
// Each split its own type, so that a call says which split it hands over; the mazes are indices
// into the study's mazes with a decision square, ascending.
struct FitSplit {
  std::vector<int64_t> mazes;
};
struct ValidationSplit {
  std::vector<int64_t> mazes;
};
struct TestSplit {
  std::vector<int64_t> mazes;
};
struct MazeSplits {
  FitSplit fit;
  ValidationSplit validation;
  TestSplit test;
};

// The fewest mazes each split can work with: two contrast pairs for the probe, two mazes to choose
// an alpha on, and six test mazes (with five or fewer, Wilcoxon's smallest two-sided p is above
// 0.05, so no comparison could ever be significant).
constexpr int64_t kMinFitMazes = 2, kMinValidationMazes = 2, kMinTestMazes = 6;

// InputError (one line) for a fraction outside [0, 1] or fractions summing to more than 1.
void check_split_fractions(const SplitFractions& fractions);
// Shuffles the mazes 0..n-1 with `seed` (core/rng.h's Fisher-Yates: the same order on every
// platform) and deals them at the cumulative fractions: the first round(fit n) to fit, up to
// round((fit + validation) n) to validation, up to round((fit + validation + test) n) to test; the
// rest are unused. InputError (one line) for fractions check_split_fractions refuses, or a split
// with fewer than its minimum.
MazeSplits split_mazes(int64_t n, const SplitFractions& fractions, uint64_t seed);

// ---- what the design needs from a network

// Per maze, P(cheese | decision square) and P(top-right | decision square).
struct GoalProbs {
  std::vector<double> cheese, top_right;
};

struct SteeringProblem {
  std::vector<uint32_t> level_seeds;  // one per maze, for the output
  // (mazes, ...) at the steered layer, mouse at the start: the contrast pairs.
  at::Tensor with_cheese, without_cheese;
  // (mazes, ...) at the steered layer, mouse at the decision square, cheese present: the
  // activations the shift is added to, whose spread along a direction scales it.
  at::Tensor at_square;
  // The goal probabilities of `mazes` with `shift` added at the layer: one activation's shape (the
  // same shift for every maze) or (mazes.size(), ...) (one each); undefined: no shift.
  std::function<GoalProbs(const std::vector<int64_t>& mazes, const at::Tensor& shift)> goal_probs;

  int64_t size() const { return static_cast<int64_t>(level_seeds.size()); }
};

// ---- directions, fitted on the fit split

struct SteeringDirection {
  std::string method;              // "one_pair", "mean_difference", "probe", "random_K"
  at::Tensor unit;                 // unit norm (zero if the fit found nothing), toward "cheese present"
  double sd = 0;                   // standard deviation of the fit split's decision-square activations along `unit`
  std::vector<int64_t> fitted_on;  // the fit split's mazes
  int64_t pair_maze = -1;          // one_pair: the fit maze whose contrast pair it is
};

// ActAdd's single contrast pair: the cheese vector of the fit maze whose vector has the median norm
// (the lower of the two middle ones; ties by maze index). One pair, as ActAdd uses, chosen without
// looking at any outcome, and typical rather than an outlier; an average over several pairs would
// drift toward the mean difference, which is compared on its own.
SteeringDirection one_pair_direction(const SteeringProblem& problem, const FitSplit& fit);
// The mean over the fit mazes of (with cheese - without cheese).
SteeringDirection mean_difference_direction(const SteeringProblem& problem, const FitSplit& fit);
// The weight of a logistic-regression probe (analysis/steering_compare.h's fit_linear_probe)
// telling the fit mazes' with-cheese activations (1) from their without-cheese ones (0); `probe`
// (may be null) receives the probe itself.
SteeringDirection probe_direction(const SteeringProblem& problem, const FitSplit& fit, LinearProbe* probe = nullptr);
// A Gaussian direction, for the null; seeded by (seed, draw).
SteeringDirection random_direction(const SteeringProblem& problem, const FitSplit& fit, uint64_t seed, int64_t draw);

// The shift for `alpha`: -alpha sd unit, so a positive alpha moves away from "cheese present".
at::Tensor steering_shift(const SteeringDirection& direction, double alpha);

// ---- alpha, chosen on the validation split

struct TunedDirection {
  SteeringDirection direction;
  std::vector<double> alphas;                  // the grid
  std::vector<double> validation_mean_effect;  // per alpha: mean change of P(cheese | d.s.)
  double alpha = 0;                            // the grid's alpha with the lowest mean change (first if tied)
  std::vector<int64_t> alpha_chosen_on;        // the validation mazes
};
// std::logic_error if a validation maze is one the direction was fitted on.
TunedDirection choose_alpha(const SteeringProblem& problem, const SteeringDirection& direction,
                            const ValidationSplit& validation, const std::vector<double>& alphas);

// ---- scoring, on the test split only

// Per test maze (the split's order): steered minus unsteered probabilities.
struct MazeEffects {
  std::vector<double> cheese, top_right;
};
// std::logic_error if a test maze is one the direction was fitted on or its alpha chosen on.
MazeEffects score_on_test(const SteeringProblem& problem, const TunedDirection& tuned, const TestSplit& test);

// ---- the whole design

struct SteeringDesignOptions {
  SplitFractions fractions;
  std::vector<double> alphas = {0.5, 1, 2, 4, 8};
  int64_t random_draws = 20;
  uint64_t seed = 0;  // the splits, the random directions and the bootstrap
  int bootstrap_draws = 2000;
};

struct MethodScore {
  std::string method;
  double sd = 0, alpha = 0;
  std::vector<double> validation_mean_effect;  // per alpha of the grid
  MazeEffects effect;                          // per test maze
  double mean_effect = 0;                      // mean change of P(cheese | d.s.) over the test mazes
  Interval mean_effect_ci95;                   // bootstrap over the test mazes
  double mean_effect_top_right = 0;
  // One-sided against the null: the share of random draws whose mean effect is at most this
  // one's, with the +1 correction (core/significance.h's empirical_p_less); NaN without draws.
  double p_empirical_vs_null = std::nan("");
};

// a minus b, maze by maze on the test split; b "random_null" is each maze's mean over the draws.
struct PairedComparison {
  std::string a, b;
  double mean_difference = 0;
  Interval ci95;      // paired bootstrap of the mean difference
  double p = 1;       // Wilcoxon signed-rank, two-sided
  double p_holm = 1;  // Holm-adjusted over every comparison of the study
  bool significant() const { return p_holm < 0.05; }
};

struct SteeringDesign {
  SteeringDesignOptions options;
  MazeSplits splits;
  std::vector<uint32_t> level_seeds;  // every maze with a decision square, indexed as in the splits
  GoalProbs test_unsteered;           // per test maze
  std::vector<MethodScore> methods;   // one_pair, mean_difference, probe
  std::vector<MethodScore> random;    // the null, one per draw
  std::vector<double> null_effect;    // per test maze: the mean over the draws
  double null_mean_effect = 0;        // the mean of the draws' mean effects
  Interval null_range95;              // 2.5% and 97.5% quantiles of the draws' mean effects
  // Each test maze's own cheese vector subtracted (coefficient -1, as published): fitted on the
  // maze it is scored on, so a ceiling for reference, not a method; in no comparison.
  MethodScore per_maze_oracle;
  std::vector<PairedComparison> comparisons;
  uint32_t one_pair_seed = 0;  // the level seed of the one-pair direction's fit maze
  double probe_fit_accuracy = 0, probe_test_accuracy = 0;
  double cosine_mean_difference_probe = 0, cosine_one_pair_mean_difference = 0;
};

// Splits, fits, tunes and scores, in that order. InputError when the mazes are too few for the
// splits or the options are out of range (one line).
SteeringDesign run_steering_design(const SteeringProblem& problem, const SteeringDesignOptions& options);

}  // namespace shardlab::analysis
