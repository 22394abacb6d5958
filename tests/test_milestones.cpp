// Developmental milestones: run.milestone_every's checkpoints, and `analyze milestones` over them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agents/run_dir.h"
#include "analysis/milestones.h"
#include "test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

using test::kSmoke;

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

  const std::string fast = " --episodes 8 --seeds 0:40 --fit-seeds 40:80 --draws 100 --permutations 100";
  r = run_cli("analyze milestones " + run + fast);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("order (halfway)"), std::string::npos) << r.out;
  const auto csv = test::read_csv(run + "/analysis/milestones.csv");
  ASSERT_EQ(csv.size(), 1u + 6 * 7);  // header + 6 milestones x 7 quantities
  EXPECT_EQ(csv[0][2], "global_step");
  EXPECT_EQ(csv[1][2], "0");
  EXPECT_EQ(csv.back()[2], "15360");
  const std::string json = test::read_file(run + "/analysis/milestones.json");
  const auto j = nlohmann::json::parse(json);
  EXPECT_EQ(j["maze_counts"]["seeds"], 40);
  EXPECT_EQ(j["fit_seeds"], "40:80");
  ASSERT_EQ(j["runs"].size(), 1u);
  // Relative thresholds: whatever the tiny run learnt, step 0 never crosses.
  for (const auto& [name, q] : j["runs"][0]["quantities"].items())
    for (const char* rule : {"halfway", "standard_errors"})
      if (q.contains(rule)) {
        EXPECT_TRUE(q[rule]["crossing_step"].is_null() || q[rule]["crossing_step"].get<int64_t>() > 0) << name;
        EXPECT_EQ(q[rule]["crossing_step_ci95"].size(), 2u);
      }
  EXPECT_TRUE(j["agreement"]["halfway"]["kendalls_w"].is_null());  // one run
  const std::string svg = test::read_file(run + "/analysis/milestones.svg");
  EXPECT_NE(svg.find("Developmental milestones"), std::string::npos);
  EXPECT_NE(svg.find("train_cheese_rate"), std::string::npos);

  // The outputs exist now: refused without --force, and left as they were.
  r = run_cli("analyze milestones " + run + fast);
  test::expect_one_line_error(r, "exists");
  EXPECT_EQ(test::read_file(run + "/analysis/milestones.json"), json);
  test::expect_one_line_error(run_cli("analyze milestones " + run + " --fit-seeds 20:60 --seeds 0:40 --force"),
                              "overlaps");

  // Several runs: the same run twice, a run that stopped early, and a second seed.
  const std::string other = out + "/seed2";
  fs::copy(run, other, fs::copy_options::recursive);
  test::expect_one_line_error(run_cli("analyze milestones " + run + " " + run + " --out " + out + "/both"),
                              "the same run twice");
  test::expect_one_line_error(run_cli("analyze milestones " + run + " " + other + " --out " + out + "/both"),
                              "run.seed");
  test::expect_one_line_error(run_cli("analyze milestones " + run + " " + other), "--out");
  auto run_json = nlohmann::json::parse(test::read_file(other + "/run.json"));
  run_json["seed"] = 2;
  std::ofstream(other + "/run.json") << run_json.dump();
  fs::remove(other + "/milestones/step_00000015360.pt");
  test::expect_one_line_error(run_cli("analyze milestones " + run + " " + other + " --out " + out + "/both"),
                              "other milestone steps");
  fs::copy_file(run + "/milestones/step_00000015360.pt", other + "/milestones/step_00000015360.pt");
  r = run_cli("analyze milestones " + run + " " + other + fast + " --out " + out + "/both");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto both = nlohmann::json::parse(test::read_file(out + "/both/milestones.json"));
  EXPECT_EQ(both["runs"].size(), 2u);
  EXPECT_EQ(both["agreement"]["halfway"]["runs"], 2);
  EXPECT_NE(r.out.find("Kendall's W"), std::string::npos);
}

TEST(Milestones, AResumedRunKeepsEveryMilestoneOnce) {
  // As after a kill between updates 12 and 16: the newest checkpoint and the milestones past update
  // 12 gone; the resume redoes updates 13..16 and writes their milestone again, nothing twice.
  const std::string out = test::make_temp_dir();
  const std::string args = "train " + kSmoke +
                           " --set env.num_envs=8 --set train.num_steps=32 --set run.milestone_every=750"
                           " --set run.checkpoint_every=4 --set train.total_steps=4096 --out " +
                           out;
  ASSERT_EQ(run_cli(args).exit_code, 0);
  const std::string run = out + "/ppo_maze_smoke";
  fs::remove(run + "/checkpoints/update_0000016.pt");
  fs::remove(run + "/milestones/step_00000003840.pt");
  const auto r = run_cli(args + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> steps;
  for (const auto& m : run_milestones(run)) steps.push_back(m.global_step);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 768, 1536, 2304, 3072, 3840}));
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
