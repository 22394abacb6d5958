// Behavioural statistics: does the agent get the cheese, and which features of the decision
// square predict it (a logistic regression, as in the published study).
#pragma once

#include <cstdint>
#include <functional>
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

// What the policy was shown and did at one step of one maze's episode: the raw observation (as
// the environment wrote it, before the run's normalisation) and the compact move it sampled.
using RolloutObserver = std::function<void(size_t maze, int step, const float* observation, int move)>;

// Plays the policy (sampling its moves) in the maze environment itself, from the start of each
// maze until it reaches the cheese or `max_steps` pass (0: the spec's env.max_episode_steps); true
// where it got the cheese. Each step is the environment's own step and observation, as in
// training and `eval`: a procgen_rgb network sees Procgen's sprite, which faces left until a move
// right and mirrors with each horizontal move (also against a wall); grid observations carry no
// facing. `observe`, when given, sees every step.
std::vector<bool> gets_cheese(const MazePolicy& policy, const std::vector<MazeLayout>& levels, uint64_t seed,
                              int max_steps = 0, CheeseJudgement judgement = CheeseJudgement::kReached,
                              const RolloutObserver& observe = nullptr);

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

// How long the L1 solver runs. liblinear (newGLMNET, solve_l1r_lr) stops when the summed
// violation of the optimality conditions falls to tolerance * max(min(positives, negatives), 1) /
// rows times its value at w = 0 (sklearn passes its `tol` so scaled), or after max_iterations
// Newton steps (sklearn's `max_iter` is this cap), or when ten quadratic models in a row moved
// nothing.
struct L1LogisticSolver {
  double tolerance = 1e-9;
  int max_iterations = 1000;
};
// sklearn's LogisticRegression defaults, which behavioral_stats.ipynb keeps (it passes only
// random_state, solver and penalty): tol = 1e-4, max_iter = 100.
constexpr L1LogisticSolver kSklearnSolver{1e-4, 100};

// L1-regularised logistic regression as liblinear solves it (sklearn's
// LogisticRegression(penalty='l1', solver='liblinear'), C = 1 by default):
//   minimize  sum_j |w_j| + |b| + C * sum_i log(1 + exp(-s_i (w . x_i + b))),   s_i = +-1,
// where liblinear treats the intercept b as one more weight on a constant feature 1 and so
// penalizes it too (`penalize_intercept`). Solved like liblinear's newGLMNET: Newton steps on the
// loss, each an inexact coordinate-descent solution of the L1-penalized quadratic model (its
// inner tolerance starts at the initial violation and shrinks 4x whenever one sweep met it), with
// liblinear's line search (at most 20 halvings, sufficient decrease 0.01). Coordinates are swept
// in order (liblinear shuffles them with its own random stream) and nothing is shrunk.
struct L1Logistic {
  std::vector<double> coefficients;
  double intercept = 0;
  int iterations = 0;        // Newton steps taken
  double max_violation = 0;  // of the optimality conditions at the end
};
L1Logistic fit_l1_logistic(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, double c = 1.0,
                           bool penalize_intercept = true, const L1LogisticSolver& solver = {});

// The reference's evaluation: features z-scored over all rows (population standard deviation, as
// scipy.stats.zscore; a constant feature becomes 0), then `splits` random train/test splits
// (test = ceil(test_fraction * rows), as sklearn's train_test_split), an L1 fit with `solver` on
// each, accuracy on its test rows. The majority baseline is the notebook's: max(p, 1 - p) for p the
// share of all rows that got the cheese.
struct SplitRegression {
  std::vector<std::string> names;
  int64_t rows = 0, train = 0, test = 0, splits = 0;
  double c = 1.0;
  L1LogisticSolver solver;
  double positive_rate = 0;      // share of rows where the agent got the cheese
  double majority_baseline = 0;  // max(positive_rate, 1 - positive_rate), over all rows
  double mean_test_accuracy = 0, sd_test_accuracy = 0;
  double test_accuracy_low = 0, test_accuracy_high = 0;  // 2.5% and 97.5% quantiles over the splits
  // Our former baseline, kept beside the reference's: each split's training majority scored on its
  // test rows, averaged over the splits.
  double mean_majority_baseline = 0;
  std::vector<double> mean_coefficients, sd_coefficients;  // over the splits, on z-scored features
  std::vector<int64_t> nonzero_splits;                     // splits where the coefficient was not 0
  double mean_intercept = 0;
  double mean_iterations = 0;           // Newton steps per fit
  int64_t splits_at_iteration_cap = 0;  // fits stopped by solver.max_iterations
};
SplitRegression repeated_split_regression(const std::vector<std::vector<double>>& x, const std::vector<bool>& y,
                                          const std::vector<std::string>& names, double c, int splits,
                                          double test_fraction, uint64_t seed,
                                          const L1LogisticSolver& solver = kSklearnSolver);

// The reference's mazes: `episodes` level seeds drawn from [0, range) (draw_level_seeds), each
// level as Procgen makes it in the run's world with the spec's cheese placement and EVERY maze size
// (gather_data.py plays the hard world's full distribution, whatever the run trained on); kept:
// those with a decision square whose cheese is outside the top-right 5x5.
struct ReferenceMazes {
  std::vector<MazeLayout> kept;
  int64_t drawn = 0, without_decision_square = 0, cheese_in_top_right_5x5 = 0;
  // Mazes whose size lies outside the run's env.min_maze_size..env.max_maze_size (the policy never
  // trained on them): among those drawn and among those kept.
  int64_t drawn_outside_training_sizes = 0, kept_outside_training_sizes = 0;
};
ReferenceMazes draw_reference_mazes(const maze::MazeConfig& config, int64_t episodes, int64_t range, uint64_t seed);

}  // namespace shardlab::analysis
