// Steering vectors built three ways and applied at one layer or at every layer (issue 13,
// ../shared/reference/studies.md). The field builds a steering direction from
//  - one contrast pair (ActAdd; the per-maze cheese vector: cheese minus no cheese, mouse at the start),
//  - the mean of many such differences (one vector for every maze), or
//  - a linear probe's weight vector (a logistic regression telling "cheese present" from "absent"
//    on the layer's activations; in language models the mean difference steered much better).
// `compare_steering` scales each to one common norm and measures P(cheese | decision square) and
// P(top-right | decision square) at several coefficients, with a random direction of the same norm
// as the control. The layer sweep is analysis/layer_sweep.h.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"

namespace shardlab::analysis {

// A logistic-regression probe on flattened activations: P(label 1 | x) = sigmoid(w . (x - mean) + b).
struct LinearProbe {
  at::Tensor weight;  // the direction, shaped as one activation (no batch dimension)
  at::Tensor mean;    // the training rows' mean, same shape
  double bias = 0;
  double train_accuracy = 0;
};
// Fits a probe on `x` (rows, ...) with labels 0/1 (rows,), L2-penalised by `l2` (per row, on the
// weight only), by full-batch L-BFGS. Deterministic.
LinearProbe fit_linear_probe(const at::Tensor& x, const at::Tensor& labels, double l2 = 1e-3);
// The share of rows the probe labels correctly.
double probe_accuracy(const LinearProbe& probe, const at::Tensor& x, const at::Tensor& labels);

// Per-maze cheese vectors at `layer`: (mazes, ...) activations with the cheese minus without,
// mouse at the start.
at::Tensor per_maze_cheese_vectors(const MazePolicy& policy, const std::string& layer,
                                   const std::vector<MazeLayout>& mazes);

struct SteeringCompareOptions {
  std::string layer = "embedder.block2.res1.resadd_out";
  std::vector<double> coeffs = {-2, -1, -0.5, 0.5, 1, 2};
  uint64_t seed = 0;  // the random directions
};

// One (method, coefficient) of the comparison, over every maze.
struct SteeringCompareRow {
  std::string method;  // "per_maze", "mean_difference", "probe", "random"
  double coeff = 0;
  double median_p_cheese = 0, mean_p_cheese = 0;
  double median_p_top_right = 0, mean_p_top_right = 0;
  int64_t cheese_rose = 0, cheese_fell = 0;  // against no vector
};

struct SteeringComparison {
  std::string layer;
  int64_t mazes = 0, left_out = 0;
  double norm = 0;                                     // the common norm: the mean norm of the per-maze cheese vectors
  double median_p_cheese = 0, median_p_top_right = 0;  // no vector
  double mean_p_cheese = 0, mean_p_top_right = 0;
  // The probe: fitted on the even-numbered mazes' activations (with and without cheese), its
  // accuracy on the odd-numbered ones; the direction used is this fit's weight.
  double probe_train_accuracy = 0, probe_test_accuracy = 0;
  // Cosine similarity of the mean difference with the probe direction.
  double cosine_mean_difference_probe = 0;
  std::vector<SteeringCompareRow> rows;
};

// Each direction is scaled to norm `norm` and added with each coefficient (positive: toward
// "cheese present") at every maze's decision square. InputError for a non-spatial or unknown
// layer, or fewer than 4 mazes with a decision square.
SteeringComparison compare_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                    const SteeringCompareOptions& options);

// ---- reports
std::string steering_compare_csv(const SteeringComparison& c);
std::string steering_compare_json(const MazePolicy& policy, const std::string& seeds, const SteeringComparison& c,
                                  const MazeCounts& counts);
// Two panels (P(cheese | d.s.), P(top-right | d.s.)) against the coefficient, one line per method.
std::string steering_compare_svg(const SteeringComparison& c);

}  // namespace shardlab::analysis
