// Developmental milestones: run.milestone_every's checkpoints, and `analyze milestones` over them.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "agents/run_dir.h"
#include "analysis/milestones.h"
#include "analysis/ridge.h"
#include "test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using analysis::MilestoneRow;
using analysis::MilestoneStudy;
using test::run_cli;

const std::string kSmoke = std::string(SHARDLAB_SOURCE_DIR) + "/experiments/ppo_maze_smoke.ini";

MilestoneRow row(int64_t step, double train, double corner, double channel) {
  MilestoneRow r;
  r.global_step = step;
  r.values = {{"train_cheese_rate", train}, {"uniform_corner_rate", corner}, {"best_channel_score", channel}};
  return r;
}

TEST(Milestones, FirstCrossingsAndTheirOrder) {
  MilestoneStudy s;
  s.thresholds = analysis::default_milestone_thresholds();  // 0.5, 0.1, 0.25 for these three
  s.rows = {row(0, 0.2, 0.0, 0.3), row(100, 0.4, 0.1, 0.1), row(200, 0.6, 0.05, 0.2), row(300, 0.9, 0.3, 0.5)};
  analysis::find_crossings(s);
  EXPECT_EQ(s.first_crossing.at("train_cheese_rate"), 200);
  EXPECT_EQ(s.first_crossing.at("uniform_corner_rate"), 100);  // at least the threshold counts
  EXPECT_EQ(s.first_crossing.at("best_channel_score"), 0);     // crossed, dipped, crossed again: the first
  EXPECT_EQ(s.first_crossing.at("probe_accuracy"), -1);        // no values: never
  EXPECT_EQ(s.order, (std::vector<std::string>{"best_channel_score", "uniform_corner_rate", "train_cheese_rate"}));
  EXPECT_EQ(s.first_crossing.count("random_vector_effect"), 0u);  // a control, not a milestone
}

TEST(Milestones, ProbeFindsACheesePositionThatIsLinearInTheActivations) {
  std::mt19937 gen(3);
  std::uniform_int_distribution<int> cell(1, 13);
  std::normal_distribution<float> noise(0, 1);
  std::vector<std::vector<float>> encoded, unrelated;
  std::vector<std::pair<int, int>> cells;
  for (int i = 0; i < 200; ++i) {
    const int x = cell(gen), y = cell(gen);
    cells.emplace_back(x, y);
    std::vector<float> a(20), b(20);
    for (int j = 0; j < 20; ++j) {
      a[j] = 0.01f * noise(gen);
      b[j] = noise(gen);
    }
    a[3] += 0.5f * x;  // x and y, linearly, in two of the features
    a[7] -= 0.25f * y + 1.0f;
    encoded.push_back(a);
    unrelated.push_back(b);
  }
  EXPECT_EQ(analysis::cheese_position_probe_accuracy(encoded, cells), 1.0);
  // Within one cell of a 13 x 13 range by guessing: about (3/13)^2 = 0.05, rounded up for the mean.
  EXPECT_LT(analysis::cheese_position_probe_accuracy(unrelated, cells), 0.3);
}

TEST(Milestones, RidgeGivesTheSameFitOverFeaturesAndOverRows) {
  // The two forms of the one ridge solver: more rows than features, and more features than rows.
  for (const auto& [rows, features] : std::vector<std::pair<int, int>>{{40, 7}, {7, 40}}) {
    const Eigen::MatrixXd x = Eigen::MatrixXd::Random(rows, features);
    const Eigen::MatrixXd y = Eigen::MatrixXd::Random(rows, 2);
    const Eigen::MatrixXd fit = analysis::ridge_fit(x, y, 0.5);
    Eigen::MatrixXd gram = x.transpose() * x;
    gram.diagonal().array() += 0.5;
    const Eigen::MatrixXd primal = gram.ldlt().solve(x.transpose() * y);
    EXPECT_LT((fit - primal).cwiseAbs().maxCoeff(), 1e-9) << rows << " x " << features;
  }
}

TEST(Milestones, TrainingKeepsTheUntrainedNetworkAndOneCheckpointPerSpacing) {
  const std::string out = test::make_temp_dir();
  // 16 updates of 1024 steps; a milestone every 3000 steps: after updates 3, 6, 9, 12, 15.
  auto r = run_cli("train " + kSmoke + " --set run.milestone_every=3000 --set train.total_steps=16384 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = out + "/ppo_maze_smoke";
  const auto kept = run_milestones(run);
  std::vector<int64_t> steps;
  for (const auto& m : kept) steps.push_back(m.global_step);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 3072, 6144, 9216, 12288, 15360}));
  // Periodic checkpoints are still pruned to run.keep_checkpoints; milestones never are.
  int64_t periodic = 0;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) periodic += e.path().extension() == ".pt";
  EXPECT_EQ(periodic, 3);  // run.keep_checkpoints' default

  r = run_cli("analyze milestones " + run + " --episodes 8 --seeds 0:40");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto csv = test::read_csv(run + "/analysis/milestones.csv");
  ASSERT_EQ(csv.size(), 7u);  // header + 6 milestones
  EXPECT_EQ(csv[0][0], "global_step");
  EXPECT_EQ(csv[1][0], "0");
  EXPECT_EQ(csv[6][0], "15360");
  const std::string json = test::read_file(run + "/analysis/milestones.json");
  EXPECT_NE(json.find("\"maze_counts\""), std::string::npos);
  EXPECT_NE(json.find("\"outside_maze_sizes\""), std::string::npos);
  EXPECT_NE(json.find("\"order\""), std::string::npos);
  const std::string svg = test::read_file(run + "/analysis/milestones.svg");
  EXPECT_NE(svg.find("Developmental milestones"), std::string::npos);
  EXPECT_NE(svg.find("train_cheese_rate"), std::string::npos);

  // The outputs exist now: refused without --force, and left as they were.
  r = run_cli("analyze milestones " + run + " --episodes 8 --seeds 0:40");
  test::expect_one_line_error(r, "exists");
  EXPECT_EQ(test::read_file(run + "/analysis/milestones.json"), json);
  test::expect_one_line_error(run_cli("analyze milestones " + run + " --threshold nope=1 --force"), "--threshold");
  test::expect_one_line_error(run_cli("analyze milestones " + run + " --threshold probe_accuracy=x --force"),
                              "not a number");
}

TEST(Milestones, AResumedRunKeepsEveryMilestoneOnce) {
  // As after a kill between updates 12 and 16: the newest checkpoint and the milestones past update
  // 12 gone; the resume redoes updates 13..16 and writes their milestone again, nothing twice.
  const std::string out = test::make_temp_dir();
  const std::string args = "train " + kSmoke +
                           " --set run.milestone_every=3000 --set run.checkpoint_every=4 --set train.total_steps=16384 "
                           "--out " + out;
  ASSERT_EQ(run_cli(args).exit_code, 0);
  const std::string run = out + "/ppo_maze_smoke";
  fs::remove(run + "/checkpoints/update_0000016.pt");
  fs::remove(run + "/milestones/step_00000015360.pt");
  const auto r = run_cli(args + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> steps;
  for (const auto& m : run_milestones(run)) steps.push_back(m.global_step);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 3072, 6144, 9216, 12288, 15360}));
  for (const auto& e : fs::directory_iterator(run + "/milestones"))
    EXPECT_EQ(e.path().extension(), ".pt") << "left behind: " << e.path();
}

TEST(Milestones, ARunWithoutMilestonesIsOneLine) {
  const std::string out = test::make_temp_dir();
  ASSERT_EQ(run_cli("train " + kSmoke + " --set train.total_steps=2048 --out " + out).exit_code, 0);
  test::expect_one_line_error(run_cli("analyze milestones " + out + "/ppo_maze_smoke"), "run.milestone_every");
  test::expect_one_line_error(run_cli("analyze milestones " + out + "/nowhere"), "nowhere");
}

}  // namespace
}  // namespace shardlab
