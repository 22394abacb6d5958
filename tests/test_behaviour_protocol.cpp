// The behavioural statistics' reference protocol as procgen-tools runs it (issue 30): episodes
// played in the maze environment itself, so a procgen_rgb network sees Procgen's sprite facing its
// last horizontal move; level seeds of every maze size; sklearn's solver defaults (tol 1e-4,
// max_iter 100) reaching liblinear's loop; the majority baseline over all rows.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "analysis/behaviour.h"
#include "analysis/maze_policy.h"
#include "core/spec.h"
#include "envs/maze/maze_env.h"
#include "envs/maze/procgen_render.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

// A policy whose moves have fixed probabilities (left, down, up, right, no-op): the policy head's
// weights are zero and its bias the log probabilities, whatever the observation.
std::string fixed_policy(const std::string& dir, const std::vector<double>& probs, const std::string& observation) {
  std::vector<std::string> keys = {"agent.channels=4,8,8", "agent.hidden=32", "env.distribution=easy",
                                   "env.actions=compact",  "run.threads=1",   "env.observation=" + observation};
  if (observation == "procgen_rgb") keys.push_back("env.procgen_assets=" + test::procgen_assets_dir());
  const Spec spec = Spec::load(shardlab_schema(), "", keys);
  const int64_t side = observation == "grid" ? 15 : maze::kProcgenFrameSize;
  ObservationSpec obs;
  obs.shape = {3, side, side};
  ActionSpec act;
  act.num_actions = maze::kNumCompactActions;
  at::Generator init = at::detail::createCPUGenerator(5);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) {
      if (item.key().find("fc_policy") == std::string::npos) continue;
      if (item.key().find("bias") != std::string::npos)
        item.value().copy_(torch::log(torch::tensor(probs, item.value().options())));
      else
        item.value().zero_();
    }
  }
  const std::string path = dir + "/" + observation + std::to_string(static_cast<int>(probs[3] * 100)) + ".pt";
  save_policy(path, *net, spec);
  return path;
}

// An open 7x7 maze in the 15x15 world: the mouse starts at (4, 4) with free cells right of it;
// the cheese far away in the top-right corner, so a short episode never reaches it.
maze::MazeLayout open_maze() {
  std::vector<std::string> rows(4, std::string(15, '#'));
  for (const std::string r : {"......C", ".......", ".......", ".......", ".......", ".......", "M......"})
    rows.push_back("####" + r + "####");
  while (rows.size() < 15) rows.push_back(std::string(15, '#'));
  return maze::layout_from_rows(rows, 17);
}

struct Step {
  int step = 0, move = 0;
  std::vector<float> observation;
};

std::vector<Step> record(const MazePolicy& p, const maze::MazeLayout& layout, int steps, uint64_t seed) {
  std::vector<Step> out;
  const int64_t size = 3 * maze::kProcgenFrameSize * maze::kProcgenFrameSize;
  const auto observe = [&](size_t maze, int step, const float* observation, int move) {
    EXPECT_EQ(maze, 0u);
    const int64_t n = p.maze_config().observation == maze::ObservationKind::kGrid ? 3 * 15 * 15 : size;
    out.push_back({step, move, std::vector<float>(observation, observation + n)});
  };
  gets_cheese(p, {layout}, seed, steps, CheeseJudgement::kReferenceLastStateNextToCheese, observe);
  return out;
}

// Hand-worked Procgen rule (maze.cpp: is_reflected = true on a move right, false on a move left,
// also against a wall; the sprite faces left unless reflected, and at the start): every frame the
// rollout showed is the frame of the mouse facing that way, and not its mirror.
TEST(BehaviourRollout, ProcgenSpriteFacesRightAfterAMoveRightAndLeftAfterAMoveLeft) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p =
      test::load_uniform_cheese_policy(fixed_policy(dir, {0.5, 1e-12, 1e-12, 0.5, 1e-12}, "procgen_rgb"));
  const auto assets = maze::load_procgen_assets(test::procgen_assets_dir());
  const maze::MazeLayout layout = open_maze();
  const std::vector<Step> steps = record(p, layout, 16, 3);
  ASSERT_EQ(steps.size(), 16u);
  maze::MouseState mouse{layout.start, true};
  std::vector<float> expected(steps[0].observation.size()), mirrored(expected.size());
  int facing_right = 0, facing_left_after_a_move = 0;
  for (const Step& s : steps) {
    maze::draw_procgen_observation(*assets, layout, mouse, expected.data());
    maze::draw_procgen_observation(*assets, layout, {mouse.position, !mouse.facing_left}, mirrored.data());
    EXPECT_EQ(s.observation, expected) << "step " << s.step;
    EXPECT_NE(s.observation, mirrored) << "step " << s.step << ": the facing is not visible";
    facing_right += !mouse.facing_left;
    facing_left_after_a_move += mouse.facing_left && s.step > 0 && steps[s.step - 1].move == maze::kLeft;
    ASSERT_TRUE(s.move == maze::kLeft || s.move == maze::kRight);
    mouse.facing_left = s.move == maze::kLeft;
    const Cell next{mouse.position.x + (s.move == maze::kLeft ? -1 : 1), mouse.position.y};
    if (layout.is_free(next)) mouse.position = next;
  }
  EXPECT_GT(facing_right, 0);              // the seed's draws move right ...
  EXPECT_GT(facing_left_after_a_move, 0);  // ... and back left
}

TEST(BehaviourRollout, AlwaysRightShowsTheMirroredSpriteFromTheSecondFrame) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p =
      test::load_uniform_cheese_policy(fixed_policy(dir, {1e-12, 1e-12, 1e-12, 1.0, 1e-12}, "procgen_rgb"));
  const auto assets = maze::load_procgen_assets(test::procgen_assets_dir());
  const maze::MazeLayout layout = open_maze();
  const std::vector<Step> steps = record(p, layout, 4, 0);
  ASSERT_EQ(steps.size(), 4u);
  std::vector<float> frame(steps[0].observation.size());
  // Frame t shows the mouse at (4 + t, 4): left-facing at the start, mirrored after each move right.
  for (const Step& s : steps) {
    maze::draw_procgen_observation(*assets, layout, {Cell{4 + s.step, 4}, s.step == 0}, frame.data());
    EXPECT_EQ(s.observation, frame) << "step " << s.step;
  }
}

// The rollout's observations are the environment's own: a MazeEnv stepped with the same moves
// writes the same observations (procgen_rgb), and on grid observations, which carry no facing,
// they are what the studies build for a mouse placed at that cell.
TEST(BehaviourRollout, ObservationsAreTheEnvironmentsOwnSteps) {
  const std::string dir = test::make_temp_dir();
  for (const std::string observation : {"procgen_rgb", "grid"}) {
    const MazePolicy p = test::load_uniform_cheese_policy(fixed_policy(dir, {0.3, 0.1, 0.2, 0.3, 0.1}, observation));
    const maze::MazeLayout layout = open_maze();
    const std::vector<Step> steps = record(p, layout, 20, 7);
    ASSERT_EQ(steps.size(), 20u) << observation;
    maze::MazeEnv env(p.maze_config(), 0);
    env.set_layout(layout);
    std::vector<float> written(steps[0].observation.size());
    for (const Step& s : steps) {
      env.write_observation(written.data());
      EXPECT_EQ(s.observation, written) << observation << " step " << s.step;
      if (observation == "grid") {  // the mouse placed afresh, as the rollouts used to do
        maze::MazeEnv placed(p.maze_config(), 0);
        placed.set_layout(layout);
        placed.place_mouse(env.mouse().position);
        std::vector<float> fresh(written.size());
        placed.write_observation(fresh.data());
        EXPECT_EQ(s.observation, fresh) << "step " << s.step;
      }
      env.step({s.move});
    }
  }
}

// A run trained on small mazes (env.max_maze_size = 9) still gets every size of the hard world.
TEST(BehaviourReferenceMazes, EveryMazeSizeIsDrawnAndTheOnesOutsideTrainingAreCounted) {
  maze::MazeConfig config;
  config.world_size = maze::kHardWorld;
  config.max_maze_size = 9;
  const ReferenceMazes m = draw_reference_mazes(config, 300, 1000000, 4);
  EXPECT_EQ(m.drawn, 300);
  EXPECT_EQ(static_cast<int64_t>(m.kept.size()) + m.without_decision_square + m.cheese_in_top_right_5x5, 300);
  int64_t outside = 0;
  for (const uint32_t seed : draw_level_seeds(300, 1000000, 4))
    outside += maze::maze_dim_of(seed, maze::kHardWorld) > 9;
  EXPECT_EQ(m.drawn_outside_training_sizes, outside);
  std::set<int> sizes;
  int64_t kept_outside = 0;
  for (const auto& l : m.kept) {
    sizes.insert(l.maze_dim);
    kept_outside += l.maze_dim > 9;
    EXPECT_EQ(l.walls, maze::generate_maze(l.level_seed, maze::kHardWorld, config.placement).walls);
  }
  EXPECT_EQ(m.kept_outside_training_sizes, kept_outside);
  EXPECT_GT(kept_outside, 0);
  EXPECT_GT(*sizes.rbegin(), 9);
  EXPECT_GE(sizes.size(), 8u);  // of the 12 hard-world sizes; 3x3 and 5x5 rarely have a decision square
}

// Correlated features make liblinear's Newton loop take a while: the tolerance and the cap decide
// where it stops.
void correlated_rows(std::vector<std::vector<double>>& x, std::vector<bool>& y) {
  std::mt19937 rng(9);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 1500; ++i) {
    const double a = normal(rng), b = a + 0.1 * normal(rng), c = normal(rng);
    x.push_back({a, b, c, a - c + 0.05 * normal(rng)});
    y.push_back(unit(rng) < 1.0 / (1.0 + std::exp(-(1.0 * a - 0.5 * b + 0.8 * c + 0.3))));
  }
}

TEST(BehaviourSolver, TheToleranceAndIterationCapReachLiblinearsLoop) {
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  correlated_rows(x, y);
  const L1Logistic tight = fit_l1_logistic(x, y, 1.0, true, {1e-9, 1000});
  const L1Logistic sklearn = fit_l1_logistic(x, y, 1.0, true, kSklearnSolver);
  EXPECT_EQ(kSklearnSolver.tolerance, 1e-4);
  EXPECT_EQ(kSklearnSolver.max_iterations, 100);
  EXPECT_LT(sklearn.iterations, tight.iterations);
  EXPECT_GT(sklearn.max_violation, 100 * tight.max_violation);
  double largest = 0;
  for (size_t j = 0; j < tight.coefficients.size(); ++j)
    largest = std::max(largest, std::abs(tight.coefficients[j] - sklearn.coefficients[j]));
  EXPECT_GT(largest, 1e-6);  // measurably another solution ...
  EXPECT_LT(largest, 0.1);   // ... of the same problem
  const L1Logistic capped = fit_l1_logistic(x, y, 1.0, true, {1e-12, 2});
  EXPECT_EQ(capped.iterations, 2);
  EXPECT_GT(capped.max_violation, sklearn.max_violation);
  // Through the repeated splits: the reference's solver by default, a given one when asked.
  const SplitRegression r = repeated_split_regression(x, y, {"a", "b", "c", "d"}, 1.0, 4, 0.2, 1);
  EXPECT_EQ(r.solver.tolerance, 1e-4);
  EXPECT_EQ(r.solver.max_iterations, 100);
  EXPECT_EQ(r.splits_at_iteration_cap, 0);
  const SplitRegression one = repeated_split_regression(x, y, {"a", "b", "c", "d"}, 1.0, 4, 0.2, 1, {1e-12, 1});
  EXPECT_EQ(one.mean_iterations, 1.0);
  EXPECT_EQ(one.splits_at_iteration_cap, 4);
}

// The notebook's baseline: max(p, 1 - p) over every row, whatever the splits hold.
TEST(BehaviourBaseline, MajorityBaselineIsOverAllRows) {
  std::vector<std::vector<double>> x;
  for (int i = 0; i < 10; ++i) x.push_back({std::sin(i * 1.3)});
  const std::vector<bool> six = {true, true, false, true, false, true, true, false, true, false};
  const SplitRegression r = repeated_split_regression(x, six, {"a"}, 1.0, 7, 0.2, 3);
  EXPECT_EQ(r.test, 2);
  EXPECT_DOUBLE_EQ(r.positive_rate, 0.6);
  EXPECT_DOUBLE_EQ(r.majority_baseline, 0.6);
  std::vector<bool> three(10, false);
  three[2] = three[5] = three[9] = true;
  EXPECT_DOUBLE_EQ(repeated_split_regression(x, three, {"a"}, 1.0, 7, 0.2, 3).majority_baseline, 0.7);
}

// The study end to end on a grid policy limited to 7x7 mazes: larger mazes are played and counted,
// nothing is left out for its size, the solver's settings and the baseline are the reference's.
TEST(BehaviourReferenceStudy, SummaryCountsMazesOutsideTrainingSizesAndStatesTheSolver) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const auto r =
      test::run_cli("analyze behaviour " + ckpt +
                    " --episodes 300 --max-steps 10 --splits 2 --set env.max_maze_size=7 --out " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(dir + "/out/behaviour_reference.json"));
  EXPECT_EQ(j["maze_counts"]["outside_maze_sizes"].get<int64_t>(), 0) << j.dump();
  EXPECT_GT(j["drawn_outside_training_sizes"].get<int64_t>(), 0);
  EXPECT_GT(j["used_outside_training_sizes"].get<int64_t>(), 0);
  EXPECT_EQ(j["tolerance"].get<double>(), 1e-4);
  EXPECT_EQ(j["max_iterations"].get<int64_t>(), 100);
  const double rate = j["cheese_rate"].get<double>();
  EXPECT_NEAR(j["majority_baseline"].get<double>(), std::max(rate, 1 - rate), 1e-5);
  EXPECT_LE(j["cheese_rate_ci95"][0].get<double>(), rate);
  EXPECT_GE(j["cheese_rate_ci95"][1].get<double>(), rate);
}

}  // namespace
}  // namespace shardlab::analysis
