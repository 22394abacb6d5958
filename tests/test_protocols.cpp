// The published protocols followed exactly (issue 13): the L1 logistic regression as liblinear
// solves it, the reference's eleven behavioural features and its 5x5 exclusion, the reference's
// "% changed" of a vector field and the maze counts in every summary (the retargeting conditions:
// tests/test_protocol_retarget.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "analysis/resample.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/text.h"
#include "envs/maze/maze_generator.h"
#include "experiments/schema.h"
#include "tests/protocol_mazes.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

using test::hand_maze;
using test::hand_maze_rows;
using test::in_easy_world;

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
  // A maze of 5..9 cells in the 15-cell world, so the world's top-right 5x5 and the maze's differ.
  const auto fits = [](uint32_t seed) {
    const int dim = maze::generate_maze(seed, maze::kEasyWorld, maze::Placement{}).maze_dim;
    return dim >= 5 && dim <= maze::kEasyWorld - 6;
  };
  uint32_t seed = 0;
  while (seed < 100 && !fits(seed)) ++seed;
  ASSERT_TRUE(fits(seed)) << "no maze of 5..9 cells among seeds 0..99";
  MazeLayout small = maze::generate_maze(seed, maze::kEasyWorld, maze::Placement{});
  ASSERT_GE(small.margin(), 3);
  small.cheese = {small.world_size - 1, small.world_size - 1};  // the world's corner, outside the maze
  EXPECT_FALSE(cheese_in_top_right_region(small));
  small.cheese = small.top_right();
  EXPECT_TRUE(cheese_in_top_right_region(small));
  // The bottom-left cell of the maze's top-right 5x5: inside the maze's region, outside the world's.
  const int lo = small.margin() + small.maze_dim - 5;
  ASSERT_LT(lo, small.world_size - 5);
  small.cheese = {lo, lo};
  EXPECT_TRUE(cheese_in_top_right_region(small));
  small.cheese = {lo - 1, lo};
  EXPECT_FALSE(cheese_in_top_right_region(small));
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
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
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

// The cell whose cheese plane (grid observation, channel 1, row 0 the top) is lit.
Cell cheese_in_observation(const MazePolicy& p, const MazeInput& input) {
  const at::Tensor plane = p.observations({input})[0][1];
  const int64_t w = plane.size(1), at = plane.flatten().argmax().item<int64_t>();
  EXPECT_EQ(plane.sum().item<double>(), 1.0);  // one cheese
  return Cell{static_cast<int>(at % w), static_cast<int>(w - 1 - at / w)};
}

// cheese_scrubbing.ipynb moves every source's cheese in both conditions: onto the target's cheese
// cell (same) or onto a third random level's cheese cell (different); the source is a random
// other level where that cell is open, the mouse on one of its empty cells.
TEST(ProtocolResample, ReferenceSourcesMoveTheCheeseInBothConditions) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  Rng rng(1);
  int sources = 0, third_differs = 0;
  for (const MazeLayout& target : study_levels(p, 0, 6)) {
    ASSERT_TRUE(target.has_cheese());
    for (const bool same : {true, false}) {
      const ReferenceSources drawn = reference_sources(p, target, 3, same, rng);
      ASSERT_EQ(drawn.sources.size(), 3u);
      const auto third = p.level(drawn.cheese_level_seed);
      ASSERT_TRUE(third.has_value());
      if (same) {
        EXPECT_EQ(drawn.cheese_level_seed, target.level_seed);
        EXPECT_EQ(drawn.cheese, target.cheese);
      } else {
        EXPECT_EQ(drawn.cheese, third->cheese);  // the third level's cheese cell
        third_differs += drawn.cheese != target.cheese;
      }
      for (const MazeInput& src : drawn.sources) {
        const auto own = p.level(src.layout.level_seed);  // the source level as generated
        ASSERT_TRUE(own.has_value());
        EXPECT_NE(src.layout.level_seed, target.level_seed);
        EXPECT_EQ(src.layout.walls, own->walls);
        EXPECT_TRUE(own->is_free(drawn.cheese));                 // the cell is open in the source
        EXPECT_EQ(src.layout.cheese, drawn.cheese);              // moved there ...
        EXPECT_EQ(cheese_in_observation(p, src), drawn.cheese);  // ... in what the network sees
        EXPECT_TRUE(own->is_free(src.mouse));
        EXPECT_NE(src.mouse, own->cheese);  // an empty cell before the move
        ++sources;
      }
    }
  }
  EXPECT_EQ(sources, 6 * 2 * 3);
  EXPECT_GT(third_differs, 0);
}

// The reference studies only the mazes with a decision square: adding a maze without one changes
// nothing, not even the random draws.
TEST(ProtocolResample, ReferenceLeavesOutMazesWithoutADecisionSquare) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  // The hand maze (cheese off the path to the corner: a decision square), and the same maze with
  // the cheese on that path (up the left column): none.
  const MazeLayout with_square = in_easy_world(hand_maze_rows());
  const MazeLayout without_square = in_easy_world({
      ".......",
      ".#####.",
      "C#...#.",
      ".#.#.#.",
      "...#.#.",
      ".#####.",
      "M.....#",
  });
  ASSERT_TRUE(find_decision_square(with_square).has_value());
  ASSERT_FALSE(find_decision_square(without_square).has_value());
  const std::string layer = "embedder.block2.res1.resadd_out";
  int64_t used_one = 0, used_both = 0;
  const auto one = intervene_on_channels(p, layer, {1, 2}, {with_square}, 1, 3, Protocol::kReference, &used_one);
  const auto both = intervene_on_channels(p, layer, {1, 2}, {without_square, with_square, without_square}, 1, 3,
                                          Protocol::kReference, &used_both);
  EXPECT_EQ(used_one, 1);
  EXPECT_EQ(used_both, 1);
  ASSERT_EQ(one.size(), both.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(both[i].percent_channels_per_maze.size(), 1u);
    EXPECT_EQ(one[i].percent_channels, both[i].percent_channels) << one[i].intervention;
    EXPECT_EQ(one[i].percent_random, both[i].percent_random) << one[i].intervention;
    EXPECT_EQ(one[i].tv_channels, both[i].tv_channels) << one[i].intervention;
    EXPECT_GT(one[i].tv_channels, 0.0) << one[i].intervention;
  }
  EXPECT_THROW(intervene_on_channels(p, layer, {1, 2}, {without_square}, 1, 3, Protocol::kReference), InputError);
  // Ours keeps every maze with cheese.
  int64_t used_ours = 0;
  intervene_on_channels(p, layer, {1, 2}, {without_square, with_square}, 1, 3, Protocol::kOurs, &used_ours);
  EXPECT_EQ(used_ours, 2);
}

TEST(ProtocolCounts, EverySummaryStatesItsMazeCounts) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const std::string out = " --out " + dir + "/a --set env.max_maze_size=9";
  // Every summary's counts add up: used = seeds - outside the sizes - every other count left out.
  const auto has_counts = [&](const std::string& file) {
    const auto json = nlohmann::json::parse(read_text_file(dir + "/a/" + file));
    EXPECT_TRUE(json.contains("maze_counts")) << file;
    const auto& c = json["maze_counts"];
    EXPECT_TRUE(c.contains("outside_maze_sizes")) << file;
    EXPECT_TRUE(c.contains("used")) << file;
    int64_t rest = c.value("seeds", int64_t{0});
    for (const auto& [key, v] : c.items())
      if (key != "seeds" && key != "min_maze_size" && key != "max_maze_size" && key != "used") rest -= v.get<int64_t>();
    EXPECT_EQ(rest, c.value("used", int64_t{-1})) << file << ": " << c.dump();
    return c;
  };
  // Seeds 0:40 include mazes without a decision square: the cheese vector needs one and leaves
  // them out, the channel ranking does not and uses them.
  const MazePolicy p = MazePolicy::load(ckpt, shardlab_schema(), {"env.placement=uniform", "env.max_maze_size=9"});
  int64_t small = 0, no_square = 0;
  for (const auto& l : study_levels(p, 0, 40)) {
    ++small;
    no_square += !find_decision_square(l).has_value();
  }
  ASSERT_GT(no_square, 0);
  auto r = test::run_cli("analyze cheese-vector " + ckpt + " --seeds 0:40" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto c = has_counts("cheese_vector_summary.json");
  EXPECT_EQ(c.value("without_decision_square", int64_t{-1}), no_square);
  r = test::run_cli("analyze channels " + ckpt + " --seeds 0:40 --top 2" + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  c = has_counts("channels_summary.json");
  EXPECT_FALSE(c.contains("without_decision_square")) << c.dump();
  EXPECT_EQ(c["used"].get<int64_t>() + c.value("without_cheese", int64_t{0}), small);
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
  // Flags of the other protocol are refused, not ignored: one per study and protocol.
  test::expect_one_line_error(test::run_cli("analyze behaviour " + ckpt + " --seeds 0:60" + out), "--protocol ours");
  test::expect_one_line_error(test::run_cli("analyze behaviour " + ckpt + " --episodes 400 --train-fraction 0.5" + out),
                              "--train-fraction is for --protocol ours");
  test::expect_one_line_error(
      test::run_cli("analyze behaviour " + ckpt + " --protocol ours --seeds 0:60 --splits 3" + out),
      "--splits is for --protocol reference");
  test::expect_one_line_error(test::run_cli("analyze retarget " + ckpt + " --seeds 0:2 --value 5.5" + out),
                              "--value is for --protocol ours");
  test::expect_one_line_error(
      test::run_cli("analyze retarget " + ckpt + " --protocol ours --seeds 0:2 --channels 1 --channel-value 3" + out),
      "--channel-value is for --protocol reference");
  test::expect_one_line_error(test::run_cli("analyze retarget " + ckpt + " --seeds 0:2 --channels 1" + out),
                              "--protocol ours");
  test::expect_one_line_error(
      test::run_cli("analyze retarget " + ckpt + " --seeds 0:2 --protocol exact --channels 1" + out),
      "--protocol exact");
}

TEST(ProtocolCounts, CountsThatDoNotAddUpAreABug) {
  MazeCounts c;
  c.seeds = 10;
  c.outside_sizes = 2;
  c.other_left_out = {{"without_decision_square", 3}};
  c.used = 5;
  EXPECT_EQ(maze_counts_json(c)["without_decision_square"], 3);
  c.used = 8;  // as if the three without a decision square were used and counted as left out
  EXPECT_THROW(maze_counts_json(c), std::logic_error);
}

}  // namespace
}  // namespace shardlab::analysis
