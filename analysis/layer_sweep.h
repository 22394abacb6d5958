// The layer sweep (issue 30): which layer's cheese vector steers the policy, measured so that the
// answer means something (../shared/reference/studies.md for the vocabulary).
//
// At every layer L of the sweep and every maze i with a decision square, v_i is the cheese vector
// (activations with the cheese minus without, mouse at the start). The edits, each added to L's
// output with the mouse at the decision square:
//  - scaled (the design): shift_i = c * RMS_L * v_i / RMS(v_i), for each c of one grid that
//    every layer shares (default -1, -0.5, -2), where RMS(x) = sqrt(mean of x^2 over x's elements)
//    and RMS_L = RMS of L's activations over every maze's input with the mouse at its decision
//    square (the inputs the shift is added to). So the shift's RMS is |c| times the layer's own
//    activation RMS, whatever the layer's scale; a zero v_i gives a zero shift.
//  - published: shift_i = -v_i, the raw vector subtracted as procgen-tools does.
// The effect of an edit on maze i is P(cheese | d.s.) with it minus without it; its summary is the
// mean over mazes with a bootstrap 95% interval.
//
// Two reference rows frame the layers:
//  - ceiling, "cheese removed from the input": P(cheese | d.s.) on the maze without its cheese minus
//    on the original: deleting the cheese outright. Each edit's effect is also reported as a
//    fraction of it, mean(effect) / mean(ceiling), with a paired bootstrap interval over mazes.
//  - no edit: a zero shift added at the first layer: 0 by construction, computed as a check.
// A layer is an *input edit* when subtracting v_i there reproduces the cheese-removed input exactly:
// ||(a_i - v_i) - a'_i|| <= kInputEditTolerance * ||v_i|| on every maze, a_i and a'_i the layer's
// activations at the decision square with and without the cheese (so the rest of the network sees
// exactly the cheese-removed maze, and the published row's effect is the ceiling). A first conv on a
// one-hot grid is one (it is linear in the input); that layer's "steering" is the ceiling, not a
// finding, and the best layer is chosen among the others.
// The control: each edit's shift replaced by a Gaussian direction of the same norm on every maze,
// `random_draws` times (seeded per layer); the null distribution of the mean effect gives its mean,
// its 2.5 and 97.5 percentiles and the cheese vector's one-sided empirical p-value (the share of
// draws that moved P(cheese) at least as far in the direction the coefficient's sign predicts:
// down for a subtracted vector, with the +1 correction).
// The headline (JSON's best_layer) is read at the grid's first coefficient; best_layer_published at
// the published edit. Both pick the largest fraction of the ceiling among layers that are not input
// edits, on the same mazes the fraction is measured on (a description, not a held-out estimate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "core/significance.h"

namespace shardlab::analysis {

// The fewest random draws: with fewer, the smallest empirical p, 1 / (draws + 1), exceeds 0.05.
constexpr int64_t kMinRandomDraws = 20;
// Residual of an input edit, relative to the vector's norm: float rounding is ~1e-7 of it.
constexpr double kInputEditTolerance = 1e-4;
constexpr double kPublishedCoeff = -1;

// The layers the sweep visits by default: each block's conv and maxpool outputs, each residual
// add, then the fc layers (relu3, flatten, fc, relufc); "all" adds every other tap except the
// two heads (the value head is not read by the policy; the policy head's output is the logits,
// where an edit changes the answer itself). The policy's layers, in network order.
std::vector<std::string> sweep_layers(const MazePolicy& policy, bool all);

// The scaled shifts (rows, ...): row i is coeff * layer_rms * v_i / RMS(v_i) (zero where v_i is).
at::Tensor rms_scaled_shift(const at::Tensor& vectors, double layer_rms, double coeff);

struct LayerSweepOptions {
  std::vector<std::string> layers;
  std::vector<double> coeffs = {-1, -0.5, -2};  // in units of the layer's activation RMS
  int64_t random_draws = kMinRandomDraws;
  int bootstrap_draws = 2000;
  uint64_t seed = 0;  // random directions (mixed with each layer's depth) and bootstraps
};

// One edit at one layer.
struct SweepEdit {
  std::string reading;  // "scaled" (coeff in RMS units) or "published" (the raw vector, coeff -1)
  double coeff = 0;
  double shift_rms = 0;        // mean over mazes of the shift's RMS
  std::vector<double> effect;  // per maze
  double mean_effect = 0;
  Interval effect_ci95;
  double fraction_of_ceiling = 0;
  Interval fraction_of_ceiling_ci95;
  std::vector<double> random_effects;  // one mean effect per random draw
  double random_mean = 0;
  Interval random_band95;  // 2.5 and 97.5 percentiles of random_effects
  double p_random = 0;
};

struct LayerSweepRow {
  std::string layer;
  int64_t depth = 0;  // position among the policy's taps
  std::string shape;  // e.g. "16x4x4"
  double activation_rms = 0;
  double vector_rms = 0;           // mean over mazes of RMS(v_i)
  double input_edit_residual = 0;  // max over mazes of ||(a_i - v_i) - a'_i|| / ||v_i||
  bool input_edit = false;         // input_edit_residual <= kInputEditTolerance
  std::vector<SweepEdit> edits;    // the scaled ones in the grid's order, then the published one
};

struct LayerSweep {
  LayerSweepOptions options;
  int64_t mazes = 0, left_out = 0;
  std::vector<double> p_cheese;  // per maze, no edit
  SweepEdit ceiling, no_edit;    // reference rows (no random control)
  std::vector<LayerSweepRow> rows;
};

// Runs the sweep on the mazes of `levels` with a decision square. InputError for an unknown layer,
// no layer, no coefficient, fewer than kMinRandomDraws random draws, or no maze with a decision
// square.
LayerSweep sweep_steering_layers(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                 const LayerSweepOptions& options);

// The layer that is not an input edit whose edit (`reading`, `coeff`) removes the largest fraction
// of the ceiling, and that edit; nulls when none has a finite fraction.
std::pair<const LayerSweepRow*, const SweepEdit*> best_layer(const LayerSweep& s, const std::string& reading,
                                                             double coeff);

// Whether the ceiling's 95% interval excludes 0: otherwise the network hardly reads the cheese and
// fractions of the ceiling mean little.
bool ceiling_excludes_zero(const LayerSweep& s);

// ---- reports
std::string layer_sweep_csv(const LayerSweep& s);
std::string layer_sweep_json(const MazePolicy& policy, const std::string& seeds, const LayerSweep& s,
                             const MazeCounts& counts);
// The mean change of P(cheese | d.s.) against depth, one line per edit, with the ceiling as a line
// and the random control's band (the headline coefficient's) shaded.
std::string layer_sweep_svg(const LayerSweep& s);

}  // namespace shardlab::analysis
