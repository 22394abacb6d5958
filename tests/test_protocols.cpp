// The published protocols followed exactly (issue 13): the L1 logistic regression as liblinear
// solves it, the reference's eleven behavioural features and its 5x5 exclusion, the reference's
// "% changed" of a vector field, the four retargeting conditions' path probabilities on a policy
// whose probabilities are known, and the maze counts in every summary.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/retarget.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/maze/maze_paths.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

MazePolicy load(const std::string& path) {
  return MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"});
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// The L1 objective of fit_l1_logistic, to check optimality from outside.
double l1_objective(const std::vector<std::vector<double>>& x, const std::vector<bool>& y, const std::vector<double>& w,
                    double b, double c) {
  double f = std::abs(b);
  for (double v : w) f += std::abs(v);
  for (size_t i = 0; i < x.size(); ++i) {
    double z = b;
    for (size_t j = 0; j < w.size(); ++j) z += w[j] * x[i][j];
    f += c * std::log1p(std::exp(-(y[i] ? 1 : -1) * z));
  }
  return f;
}

TEST(ProtocolL1Logistic, RecoversKnownCoefficientsWhenTheL1PenaltyIsWeak) {
  // y ~ Bernoulli(sigmoid(1.5 a - 2 b + 0.5)), c irrelevant; many rows and a large C: the fit
  // approaches maximum likelihood, i.e. the true coefficients.
  std::mt19937 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  for (int i = 0; i < 20000; ++i) {
    const double a = normal(rng), b = normal(rng), c = normal(rng);
    x.push_back({a, b, c});
    y.push_back(unit(rng) < sigmoid(1.5 * a - 2.0 * b + 0.5));
  }
  const L1Logistic fit = fit_l1_logistic(x, y, 100.0);
  EXPECT_NEAR(fit.coefficients[0], 1.5, 0.1);
  EXPECT_NEAR(fit.coefficients[1], -2.0, 0.1);
  EXPECT_NEAR(fit.coefficients[2], 0.0, 0.05);
  EXPECT_NEAR(fit.intercept, 0.5, 0.1);
  EXPECT_LE(fit.max_violation, 1e-6 * 100.0 * 20000);
}

TEST(ProtocolL1Logistic, StrongPenaltyZeroesIrrelevantFeaturesExactly) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  for (int i = 0; i < 2000; ++i) {
    std::vector<double> row;
    for (int j = 0; j < 6; ++j) row.push_back(normal(rng));
    y.push_back(unit(rng) < sigmoid(2.0 * row[0]));
    x.push_back(row);
  }
  // C = 0.01 (strong): only the relevant feature survives, the five others are exactly zero.
  const L1Logistic fit = fit_l1_logistic(x, y, 0.01);
  EXPECT_GT(fit.coefficients[0], 0.1);
  for (int j = 1; j < 6; ++j) EXPECT_EQ(fit.coefficients[j], 0.0) << "feature " << j;
  // Stronger still: everything is zero, the intercept included (liblinear penalizes it).
  const L1Logistic none = fit_l1_logistic(x, y, 1e-5);
  for (int j = 0; j < 6; ++j) EXPECT_EQ(none.coefficients[j], 0.0);
  EXPECT_EQ(none.intercept, 0.0);
}

TEST(ProtocolL1Logistic, IsAMinimumOnSeparableData) {
  // Perfectly separable by the first feature: the L1 penalty keeps the weights finite, and the
  // fit is a minimum of the objective (no small move in any coordinate lowers it).
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  for (int i = 0; i < 40; ++i) {
    const double a = (i - 19.5) / 10.0;
    x.push_back({a, std::sin(i * 1.7)});
    y.push_back(a > 0);
  }
  const L1Logistic fit = fit_l1_logistic(x, y, 1.0);
  EXPECT_TRUE(std::isfinite(fit.coefficients[0]));
  EXPECT_GT(fit.coefficients[0], 1.0);
  int right = 0;
  for (size_t i = 0; i < x.size(); ++i)
    right += (fit.intercept + fit.coefficients[0] * x[i][0] + fit.coefficients[1] * x[i][1] > 0) == y[i];
  EXPECT_EQ(right, 40);
  const double best = l1_objective(x, y, fit.coefficients, fit.intercept, 1.0);
  for (int j = 0; j < 3; ++j)
    for (const double h : {-1e-3, 1e-3}) {
      std::vector<double> w = fit.coefficients;
      double b = fit.intercept;
      (j < 2 ? w[j] : b) += h;
      EXPECT_GE(l1_objective(x, y, w, b, 1.0), best - 1e-9) << "coordinate " << j << " step " << h;
    }
}

TEST(ProtocolL1Logistic, RepeatedSplitsBeatTheMajorityOnASignal) {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  for (int i = 0; i < 500; ++i) {
    const double a = 10 + 3 * normal(rng), b = normal(rng);  // z-scoring makes the scale irrelevant
    x.push_back({a, b});
    y.push_back(a - 10 + 0.5 * normal(rng) > 1.0);
  }
  const SplitRegression r = repeated_split_regression(x, y, {"a", "b"}, 1.0, 50, 0.2, 1);
  EXPECT_EQ(r.test, 100);
  EXPECT_EQ(r.train, 400);
  EXPECT_EQ(r.splits, 50);
  EXPECT_GT(r.mean_test_accuracy, 0.85);
  EXPECT_GT(r.mean_test_accuracy, r.mean_majority_baseline + 0.1);
  EXPECT_GT(r.mean_coefficients[0], 1.0);
  EXPECT_EQ(r.nonzero_splits[0], 50);
}

// A 7x7 tree maze, margin 0 (world 7), y up, start (0, 0), corner (6, 6), cheese (1, 2):
//   y=6  . . . . . . .
//   y=5  . # # # # # .
//   y=4  . # . . . # .
//   y=3  . # . # . # .
//   y=2  . C . # . # .
//   y=1  . # # # # # .
//   y=0  M . . . . . #
// To the corner: up the left column, right along the top (12 moves); to the cheese: up 2, right 1.
// They part after (0, 2): the decision square.
MazeLayout hand_maze() {
  return maze::layout_from_rows({
      ".......",
      ".#####.",
      ".#...#.",
      ".#.#.#.",
      ".C.#.#.",
      ".#####.",
      "M.....#",
  });
}

TEST(ProtocolBehaviour, ElevenFeaturesHandComputed) {
  const MazeLayout m = hand_maze();
  ASSERT_EQ(m.maze_dim, 7);
  ASSERT_EQ(m.margin(), 0);
  ASSERT_EQ(m.cheese, (Cell{1, 2}));
  const auto ds = find_decision_square(m);
  ASSERT_TRUE(ds.has_value());
  ASSERT_EQ(ds->cell, (Cell{0, 2}));
  const ReferenceFeatures f = reference_features(m);
  ASSERT_EQ(f.values.size(), 11u);
  ASSERT_EQ(ReferenceFeatures::names().size(), 11u);
  const auto value = [&](const std::string& name) {
    const auto& names = ReferenceFeatures::names();
    const auto it = std::find(names.begin(), names.end(), name);
    EXPECT_NE(it, names.end()) << name;
    return f.values[it - names.begin()];
  };
  // The top-right 5x5 of a 7x7 maze: x, y >= 2. Nearest free cell of it: (2, 2), one step and one
  // cell from the cheese, two from the decision square.
  EXPECT_EQ(value("steps_between_cheese_5x5"), 1);
  EXPECT_DOUBLE_EQ(value("euc_dist_cheese_5x5"), 1.0);
  EXPECT_EQ(value("steps_between_decision_square_5x5"), 2);
  EXPECT_DOUBLE_EQ(value("euc_dist_decision_square_5x5"), 2.0);
  // Cheese to the corner: 1 back to (0, 2), 4 up, 6 right; Euclidean (5, 4).
  EXPECT_EQ(value("steps_between_cheese_top_right"), 11);
  EXPECT_DOUBLE_EQ(value("euc_dist_cheese_top_right"), std::sqrt(41.0));
  // Decision square to the corner: 4 up, 6 right; Euclidean (6, 4).
  EXPECT_EQ(value("steps_between_decision_square_top_right"), 10);
  EXPECT_DOUBLE_EQ(value("euc_dist_decision_square_top_right"), std::sqrt(52.0));
  EXPECT_EQ(value("steps_between_cheese_decision_square"), 1);
  EXPECT_DOUBLE_EQ(value("euc_dist_cheese_decision_square"), 1.0);
  // The norm of the cheese's world cell (1, 2).
  EXPECT_DOUBLE_EQ(value("cheese_coord_norm"), std::sqrt(5.0));
}

TEST(ProtocolBehaviour, TopRightFiveByFiveExclusion) {
  MazeLayout m = hand_maze();
  EXPECT_FALSE(cheese_in_top_right_region(m));  // (1, 2): x < 2
  m.cheese = {2, 2};                            // the region's bottom-left cell
  EXPECT_TRUE(cheese_in_top_right_region(m));
  m.cheese = {4, 1};  // y < 2
  EXPECT_FALSE(cheese_in_top_right_region(m));
  m.cheese = {6, 6};
  EXPECT_TRUE(cheese_in_top_right_region(m));
  EXPECT_TRUE(cheese_in_top_right_region(m, 1));
  m.cheese = {5, 6};
  EXPECT_FALSE(cheese_in_top_right_region(m, 1));
  // In a world with a margin the region is counted from the maze, not the world.
  MazeLayout small = maze::generate_maze(0, maze::kEasyWorld, maze::Placement{});
  if (small.maze_dim < small.world_size) {
    small.cheese = {small.world_size - 1, small.world_size - 1};  // the world's corner, outside the maze
    EXPECT_FALSE(cheese_in_top_right_region(small));
    small.cheese = small.top_right();
    EXPECT_TRUE(cheese_in_top_right_region(small));
  }
}

TEST(ProtocolBehaviour, LevelSeedsAreDistinctReproducibleAndInRange) {
  const auto a = draw_level_seeds(5000, 1000000, 4), b = draw_level_seeds(5000, 1000000, 4);
  EXPECT_EQ(a, b);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_LT(sorted.back(), 1000000u);
  EXPECT_NE(draw_level_seeds(5000, 1000000, 5), a);
}

TEST(ProtocolResample, ReferencePercentOfTwoHandMadeVectorFields) {
  // Two cells. Cell 0: left 0.5 -> 0.2 and right 0.1 -> 0.4 (difference (-0.3, 0, 0, +0.3));
  // cell 1: down 0.4 -> 0.0, no-op 0.2 -> 0.6 (no-op draws no arrow, so only -0.4 counts).
  // Norm sqrt(0.09 + 0.09 + 0.16) = sqrt(0.34); / 2 cells / 2, in percent.
  const at::Tensor a = torch::tensor({{0.5, 0.2, 0.2, 0.1, 0.0}, {0.1, 0.4, 0.2, 0.1, 0.2}}, torch::kFloat64);
  const at::Tensor b = torch::tensor({{0.2, 0.2, 0.2, 0.4, 0.0}, {0.1, 0.0, 0.2, 0.1, 0.6}}, torch::kFloat64);
  EXPECT_NEAR(vector_field_change_percent(a, b), 100.0 * std::sqrt(0.34) / 2 / 2, 1e-12);
  EXPECT_EQ(vector_field_change_percent(a, a), 0.0);
  // The same change spread over 4x the cells reads half as large (1/sqrt(cells)), where the mean
  // total variation would stay the same.
  const at::Tensor a4 = torch::cat({a, a, a, a}), b4 = torch::cat({b, b, b, b});
  EXPECT_NEAR(vector_field_change_percent(a4, b4), vector_field_change_percent(a, b) / 2, 1e-12);
}

TEST(ProtocolResample, ProtocolsGiveBothQuantities) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = load(test::untrained_maze_policy(dir));
  const auto levels = study_levels(p, 0, 12);
  int64_t used = 0;
  for (const Protocol protocol : {Protocol::kReference, Protocol::kOurs}) {
    const auto r = intervene_on_channels(p, "embedder.block2.res1.resadd_out", {1, 2}, levels, 2, 0, protocol, &used);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_GT(used, 0);
    for (const auto& i : r) {
      EXPECT_GE(i.tv_channels, 0.0);
      EXPECT_GE(i.percent_channels, 0.0);
      EXPECT_TRUE(std::isfinite(i.percent_random));
    }
  }
  EXPECT_THROW(parse_protocol("exact"), InputError);
}

// A compact-action policy whose move probabilities are the same everywhere: every weight of the
// policy head zero, its bias log(1, 2, 3, 4, 10), so P(left, down, up, right, no-op) =
// (0.05, 0.1, 0.15, 0.2, 0.5) whatever the input or the patch.
std::string known_policy(const std::string& dir) {
  const Spec spec = Spec::load(
      shardlab_schema(), "",
      {"agent.channels=4,8,8", "agent.hidden=32", "env.distribution=easy", "env.actions=compact", "run.threads=1"});
  ObservationSpec obs;
  obs.shape = {3, 15, 15};
  ActionSpec act;
  act.num_actions = 5;
  at::Generator init = at::detail::createCPUGenerator(3);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) {
      const std::string& name = item.key();
      at::Tensor& param = item.value();
      if (name.find("fc_policy") != std::string::npos) {
        if (name.find("bias") != std::string::npos)
          param.copy_(torch::log(torch::tensor({1.0, 2.0, 3.0, 4.0, 10.0}, param.options())));
        else
          param.zero_();
      }
    }
  }
  const std::string path = dir + "/known.pt";
  save_policy(path, *net, spec);
  return path;
}

TEST(ProtocolRetarget, PathProbabilityOfAPolicyWithKnownProbabilities) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = load(known_policy(dir));
  const auto levels = study_levels(p, 0, 3);
  ASSERT_FALSE(levels.empty());
  RetargetConditions k;
  k.channel = 1;
  k.effective = {1, 2};
  k.cheese_channels = {0, 1, 2, 3};
  const auto rows = run_reference_retargeting(p, "embedder.block2.res1.resadd_out", k, levels, 0);
  const double probs[4] = {0.05, 0.1, 0.15, 0.2};  // left, down, up, right
  size_t checked = 0;
  for (const auto& r : rows) {
    const MazeLayout& l =
        *std::find_if(levels.begin(), levels.end(), [&](const MazeLayout& m) { return m.level_seed == r.seed; });
    const auto path = maze::shortest_path(l, l.start, r.target);
    ASSERT_EQ(static_cast<int>(path.size()) - 1, r.path_length);
    double log_sum = 0;
    for (size_t i = 0; i + 1 < path.size(); ++i) log_sum += std::log(probs[move_between(path[i], path[i + 1])]);
    const double expected = std::exp(log_sum / static_cast<double>(path.size() - 1));
    EXPECT_NEAR(r.npp_normal, expected, 1e-5);
    EXPECT_NEAR(r.npp_channel, expected, 1e-5);
    EXPECT_NEAR(r.npp_effective, expected, 1e-5);
    EXPECT_NEAR(r.npp_all, expected, 1e-5);
    EXPECT_NEAR(r.npp_cheese, expected, 1e-5);
    ++checked;
  }
  EXPECT_GT(checked, 10u);
  // Every free cell but the start is a target.
  size_t targets = 0;
  for (const auto& l : levels) targets += free_cells(l).size() - 1;
  EXPECT_EQ(rows.size(), targets);
}

TEST(ProtocolRetarget, ConditionsChangeAnUntrainedNetworksPathProbability) {
  // With a real (random) network, setting channels at the target moves the policy, and the
  // conditions differ from each other.
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = load(test::untrained_maze_policy(dir));
  RetargetConditions k;
  k.channel = 1;
  k.channel_value = 50;
  k.effective = {1, 2};
  k.effective_value = 20;
  k.cheese_channels = {0, 1, 2, 3};
  k.all_value = 10;
  const auto rows = run_reference_retargeting(p, "embedder.block2.res1.resadd_out", k, study_levels(p, 0, 2), 6);
  ASSERT_FALSE(rows.empty());
  double moved = 0;
  for (const auto& r : rows) moved += std::abs(r.npp_channel - r.npp_normal) + std::abs(r.npp_all - r.npp_effective);
  EXPECT_GT(moved, 1e-4);
}

TEST(ProtocolCounts, EverySummaryStatesItsMazeCounts) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const std::string out = " --out " + dir + "/a --set env.max_maze_size=9";
  const auto has_counts = [&](const std::string& file) {
    const std::string json = read_text_file(dir + "/a/" + file);
    EXPECT_NE(json.find("\"maze_counts\""), std::string::npos) << file;
    EXPECT_NE(json.find("\"larger_than_max_maze_size\""), std::string::npos) << file;
    EXPECT_NE(json.find("\"without_decision_square\""), std::string::npos) << file;
    EXPECT_NE(json.find("\"used\""), std::string::npos) << file;
  };
  auto r = test::run_cli("analyze cheese-vector " + ckpt + " --seeds 0:40" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("cheese_vector_summary.json");
  r = test::run_cli("analyze channels " + ckpt + " --seeds 0:40 --top 2" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("channels_summary.json");
  r = test::run_cli("analyze resample " + ckpt + " --seeds 0:8 --channels 1,2 --random-sets 1" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("resample.json");
  EXPECT_NE(r.out.find("reference_percent_changed"), std::string::npos);
  EXPECT_NE(r.out.find("mean_total_variation"), std::string::npos);
  r = test::run_cli("analyze retarget " + ckpt +
                    " --seeds 0:2 --channel 1 --effective-channels 1,2 --cheese-channels 0,1,2 --max-targets 4" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("retarget_reference_summary.json");
  EXPECT_NE(r.out.find("\"cheese\""), std::string::npos);
  r = test::run_cli("analyze retarget " + ckpt + " --protocol ours --seeds 0:2 --channels 1 --max-targets 4" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("retarget_summary.json");
  r = test::run_cli("analyze behaviour " + ckpt + " --episodes 400 --max-steps 20 --splits 3" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("behaviour_reference.json");
  EXPECT_NE(r.out.find("cheese_in_top_right_5x5"), std::string::npos);
  EXPECT_NE(r.out.find("mean_majority_baseline"), std::string::npos);
  r = test::run_cli("analyze behaviour " + ckpt + " --protocol ours --seeds 0:60 --set env.max_episode_steps=20" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  has_counts("behaviour.json");
  // Flags of the other protocol are refused, not ignored.
  test::expect_one_line_error(test::run_cli("analyze behaviour " + ckpt + " --seeds 0:60" + out), "--protocol ours");
  test::expect_one_line_error(test::run_cli("analyze retarget " + ckpt + " --seeds 0:2 --channels 1" + out),
                              "--protocol ours");
  test::expect_one_line_error(
      test::run_cli("analyze retarget " + ckpt + " --seeds 0:2 --protocol exact --channels 1" + out),
      "--protocol exact");
}

}  // namespace
}  // namespace shardlab::analysis
