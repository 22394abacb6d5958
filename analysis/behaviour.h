// Behavioural statistics: does the agent get the cheese, and which features of the decision
// square predict it (a logistic regression, as in the published study).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

// How an episode counts as "got the cheese".
enum class CheeseJudgement {
  kReached,  // ours: the mouse stepped onto the cheese
  // procgen-tools (data_utils.py, Episode.got_cheese): the last recorded state has the mouse next to
  // the cheese (taxicab distance 1). Its recorder drops the state after the step that ends the
  // episode, so an episode that reached the cheese ends next to it; an episode cut at the step limit
  // also counts when it stopped next to the cheese ("almost always the same", as its comment says).
  kReferenceLastStateNextToCheese,
};

// Runs the policy (sampling its moves) from the start of each maze until it reaches the cheese or
// `max_steps` pass (0: the spec's env.max_episode_steps); true where it got the cheese.
std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed,
                              int max_steps = 0, CheeseJudgement judgement = CheeseJudgement::kReached);

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

// ---- The reference protocol (procgen-tools: experiments/statistics/gather_data.py,
// behavioral_stats.ipynb, procgen_tools/metrics.py); see ../shared/reference/studies.md.

// `count` distinct level seeds drawn uniformly from [0, range) with `seed` (gather_data.py draws
// 10,000 from [0, 10^6) without replacement).
std::vector<uint32_t> draw_level_seeds(int64_t count, int64_t range, uint64_t seed);

// The cheese lies in the maze's top-right n x n cells (the notebook drops these mazes:
// `(g[-5:, -5:] == CHEESE).any()`, so the test is off the training distribution).
bool cheese_in_top_right_region(const MazeLayout& layout, int n = 5);

// The eleven features the reference regresses on: metrics.py's metrics without the taxicab ones
// (the notebook drops every metric whose name starts with 't'), in the notebook's order, with
// cheese_coord_norm last. "steps" are shortest-path moves; "5x5" means the nearest free cell of the
// maze's top-right 5 x 5 cells; cheese_coord_norm is the Euclidean norm of the cheese's world
// ("outer grid") cell (x, y), y counted up from the world's bottom row. The maze must have a
// decision square.
struct ReferenceFeatures {
  static const std::vector<std::string>& names();
  std::vector<double> values;
};
ReferenceFeatures reference_features(const MazeLayout& layout);

// L1-regularised logistic regression as liblinear solves it (sklearn's
// LogisticRegression(penalty='l1', solver='liblinear'), C = 1 by default):
//   minimize  sum_j |w_j| + |b| + C * sum_i log(1 + exp(-s_i (w . x_i + b))),   s_i = +-1,
// where liblinear treats the intercept b as one more weight on a constant feature 1 and so
// penalizes it too (`penalize_intercept`). Solved like liblinear's newGLMNET: Newton steps on the
// loss, each a coordinate-descent solution of the L1-penalized quadratic model, with a
// backtracking line search; stops when the largest violation of the optimality conditions is
// below `tolerance` (relative to C * rows).
struct L1Logistic {
  std::vector<double> coefficients;
  double intercept = 0;
  int iterations = 0;
  double max_violation = 0;  // of the optimality conditions at the end
};
L1Logistic fit_l1_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, double c = 1.0,
                           bool penalize_intercept = true, double tolerance = 1e-9);

// The reference's evaluation: features z-scored over all rows (population standard deviation, as
// scipy.stats.zscore; a constant feature becomes 0), then `splits` random train/test splits
// (test = ceil(test_fraction * rows), as sklearn's train_test_split), an L1 fit on each, accuracy
// on its test rows; the majority baseline predicts each split's training majority.
struct SplitRegression {
  std::vector<std::string> names;
  int64_t rows = 0, train = 0, test = 0, splits = 0;
  double c = 1.0;
  double positive_rate = 0;  // share of rows where the agent got the cheese
  double mean_test_accuracy = 0, sd_test_accuracy = 0, mean_majority_baseline = 0;
  std::vector<double> mean_coefficients, sd_coefficients;  // over the splits, on z-scored features
  std::vector<int64_t> nonzero_splits;                     // splits where the coefficient was not 0
  double mean_intercept = 0;
};
SplitRegression repeated_split_regression(const std::vector<std::vector<double>>& x, const std::vector<bool>& y,
                                          const std::vector<std::string>& names, double c, int splits,
                                          double test_fraction, uint64_t seed);

}  // namespace shardlab::analysis
