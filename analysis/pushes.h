// Shard "pushes" at the decision square (issues 13 and 30): how much each channel of a layer pushes
// the decision toward the cheese path or toward the top-right path. The decision is the gap
//   d = log P(cheese move | decision square) - log P(top-right move | decision square),
// and a channel's push in one maze is d minus d with that channel alone ablated: positive pushes
// toward the cheese. Three ablations replace the channel's map:
//   zero      all zeros;
//   mean      its mean over the study's decision-square mazes, position by position;
//   resample  its map in another decision-square maze of the study: the mazes in an order drawn
//             with --seed, each taking the map of the next one in that order (the last the
//             first's), so a maze never receives its own map and every maze gives exactly one.
// A second estimate is gradient times activation, dd/da . (a - replacement) summed over the
// channel's positions (the first-order Taylor estimate of the same push). Whether pushes add up
// is the sum of single-channel pushes against the push of ablating every channel at once; both
// are exact and equal when the network after the layer is linear in it and moves are single
// actions.
//
// Statistics: per channel and ablation, a two-sided one-sample t test of mean push = 0 over the
// mazes (the t test, not Wilcoxon's, because the question is about the mean push and Wilcoxon's
// test is about the pseudo-median, which differs from the mean for skewed pushes), with Holm's
// correction over one family: every (channel, ablation) test of the network. A channel pushes for
// the cheese (the corner) under an ablation when its Holm-adjusted p < alpha and its mean push is
// positive (negative). Nulls: the same analysis on the same architecture at its initialisation,
// and the channels shuffled within each maze (which keeps each maze's pushes and removes which
// channel gave them).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"

namespace shardlab::analysis {

// ---- ablations ---------------------------------------------------------------------------------

enum class Ablation { kZero, kMean, kResample };
std::string ablation_name(Ablation a);
// --ablation zero|mean|resample|all (all: the three, in that order); InputError otherwise.
std::vector<Ablation> parse_ablations(const std::string& text);

// The maze each maze takes its resampled maps from (see above); InputError for fewer than 2 mazes.
std::vector<int64_t> resample_donors(int64_t mazes, uint64_t seed);

// What the ablations replace maps with, from the layer's activations over the study's mazes
// (mazes, channels, ...).
struct AblationMaps {
  at::Tensor mean;       // (1, channels, ...): the mean over mazes, position by position
  at::Tensor resampled;  // (mazes, channels, ...): row i holds maze donor[i]'s activations
  std::vector<int64_t> donor;
};
AblationMaps ablation_maps(const at::Tensor& activations, uint64_t seed);

// `activations` (the study's mazes, in order) with channel `channel` replaced as `a` says; every
// channel when `channel` is -1.
at::Tensor ablate(const at::Tensor& activations, Ablation a, int64_t channel, const AblationMaps& maps);

// ---- measurement -------------------------------------------------------------------------------

struct AblationPushes {
  Ablation ablation = Ablation::kMean;
  std::vector<std::vector<double>> by_channel;             // [channel][maze]: the push
  std::vector<std::vector<double>> gradient_x_activation;  // [channel][maze]
  std::vector<double> all_channels;                        // per maze: the push of ablating every channel at once
  std::vector<double> sum_of_single;                       // per maze: the sum of the single-channel pushes
};

struct PushStudy {
  std::string layer;
  int64_t mazes = 0, left_out = 0;
  uint64_t seed = 0;                   // of the resample donors
  std::vector<double> gap;             // d per maze, nothing ablated
  std::vector<AblationPushes> pushes;  // one per ablation, in the order asked
};

// InputError for an unknown layer or fewer than 2 mazes with a decision square.
PushStudy measure_pushes(const MazePolicy& policy, const std::string& layer, const std::vector<MazeLayout>& levels,
                         const std::vector<Ablation>& ablations, uint64_t seed);

// ---- statistics --------------------------------------------------------------------------------

enum class Verdict { kNone, kCheese, kTopRight };
std::string verdict_name(Verdict v);

struct PushTest {
  double mean = 0, ci95_lo = 0, ci95_hi = 0;  // the mean push and its Student-t 95% interval
  double p = 1, p_holm = 1;                   // two-sided one-sample t test of mean = 0; Holm-adjusted
  Verdict verdict = Verdict::kNone;
};

// One test per row of `pushes` (rows: tests, columns: mazes), Holm-adjusted over every row as one
// family (core/significance.h: a row whose values are all equal has p = 1 if they are 0, else 0).
std::vector<PushTest> test_pushes(const std::vector<std::vector<double>>& pushes, double alpha);

// Every channel under every ablation of `s` as one family: [ablation][channel].
std::vector<std::vector<PushTest>> test_study(const PushStudy& s, double alpha);

// Channels with this verdict, the largest mean push in its direction first.
std::vector<int64_t> channels_with(const std::vector<PushTest>& tests, Verdict v);
// Channels whose verdict is not kNone.
int64_t surviving(const std::vector<PushTest>& tests);

// The shuffled-channel null: `shuffles` times, each maze's pushes permuted across channels (per
// ablation, drawn with `seed`), then test_study; [ablation][shuffle]: the channels surviving Holm.
std::vector<std::vector<int64_t>> shuffled_channel_null(const PushStudy& s, double alpha, int64_t shuffles,
                                                        uint64_t seed);

// ---- reports -----------------------------------------------------------------------------------

// The untrained network the null was measured on, and where it came from.
struct UntrainedNull {
  std::string source;      // "milestone_step_0" or "fresh_init_run_seed"
  std::string checkpoint;  // the step-0 milestone's path, or empty
  uint64_t init_seed = 0;  // run.seed, for a fresh init
  PushStudy study;
};

struct PushReport {
  PushStudy trained;
  UntrainedNull null;
  double alpha = 0.05;
  int64_t shuffles = 0;
  uint64_t seed = 0;
  // `tracking_rank[c]`: channel c's rank (1 = best) in `analyze channels`' cheese tracking, and
  // the channels in that order; empty when the layer is not spatial.
  std::vector<int64_t> tracking_rank, tracking_order;
};

std::string pushes_csv(const PushReport& r);
std::string pushes_json(const MazePolicy& policy, const std::string& seeds, const PushReport& r,
                        const MazeCounts& counts);
// Each channel's mean push under each ablation with 95% intervals; surviving channels marked.
std::string pushes_svg(const PushReport& r);

}  // namespace shardlab::analysis
