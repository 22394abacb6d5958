// Behavioural statistics: does the agent get the cheese, and which features of the decision
// square predict it (a logistic regression, as in the published study).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

// Runs the policy (sampling its moves) from the start of each maze until it reaches the cheese or
// env.max_episode_steps pass; true where it got the cheese.
std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed);

// The decision-square features of one maze (which must have one: find_decision_square).
struct DecisionFeatures {
  static const std::vector<std::string>& names();
  std::vector<double> values;
};
DecisionFeatures decision_features(const MazeLayout& layout);

struct LogisticFit {
  std::vector<std::string> names;
  std::vector<double> coefficients;  // on standardized features
  double intercept = 0;
  int64_t train = 0, test = 0;
  double train_accuracy = 0, test_accuracy = 0;
  double majority_baseline = 0;  // test accuracy of always predicting the training majority
  double positive_rate = 0;      // share of all mazes where the agent got the cheese
};

// Fits on the first `train` rows, scores on the rest. Features are standardized with the training
// rows' mean and standard deviation; an L2 penalty `l2` keeps separable data finite.
LogisticFit fit_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, int64_t train,
                         const std::vector<std::string>& names, double l2 = 1e-3);

}  // namespace shardlab::analysis
