// Steering vectors built three ways and applied at one layer (issue 13,
// ../shared/reference/studies.md). The field builds a steering direction from
//  - one contrast pair (ActAdd; the per-maze cheese vector: cheese minus no cheese, mouse at the start),
//  - the mean of many such differences (one vector for every maze), or
//  - a linear probe's weight vector (a logistic regression telling "cheese present" from "absent"
//    on the layer's activations; in language models the mean difference steered much better).
// `compare_steering` builds each from a fit split of the mazes, scales it by alpha standard
// deviations of the activations along it (alpha chosen on a validation split) and scores it on a
// test split only, against at least 20 random directions (analysis/steering_splits.h). The layer sweep is
// analysis/layer_sweep.h.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "analysis/steering_splits.h"

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

// ---- the steering comparison (the held-out design: analysis/steering_splits.h)

struct SteeringCompareOptions {
  std::string layer = "embedder.block2.res1.resadd_out";
  SteeringDesignOptions design;
};

struct SteeringComparison {
  std::string layer;
  int64_t mazes = 0, left_out = 0;  // with a decision square; without one
  SteeringDesign design;
};

// The design's view of the policy at `layer` over the mazes with a decision square: the contrast
// pairs and the decision-square activations, and P(cheese | d.s.) / P(top-right | d.s.) with a
// shift added at `layer`. The problem refers to `policy`, which must outlive it.
SteeringProblem steering_problem(const MazePolicy& policy, const std::string& layer, const DecisionSquareMazes& sm);

// The held-out comparison at one layer. InputError for an unknown layer, or too few mazes with a
// decision square for the splits (before any forward pass).
SteeringComparison compare_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                    const SteeringCompareOptions& options);

// ---- reports
// analysis/steering_compare_report.cpp. One CSV row per test maze and direction (the methods, each
// random draw, the per-maze oracle); the JSON summary (splits with their level seeds, each method's
// alpha and mean effect with its interval, the null, the pairwise table); the SVG bar chart of the
// test split's mean changes.
std::string steering_compare_csv(const SteeringComparison& c);
std::string steering_compare_json(const MazePolicy& policy, const std::string& seeds, const SteeringComparison& c,
                                  const MazeCounts& counts);
std::string steering_compare_svg(const SteeringComparison& c);

}  // namespace shardlab::analysis
