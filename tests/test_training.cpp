// Training runs end to end through the CLI with the smoke spec: run folder, metrics,
// evaluation, determinism, resume after kill -9, the non-finite-loss stop.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/progress.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using test::read_csv;
using test::run_cli;
using test::run_shell;
using test::without_clock;

using test::kSmoke;

TEST(Training, SmokeRunWritesRunFolderAndEvaluates) {
  const std::string out = test::make_temp_dir();
  const auto r = run_cli("train " + kSmoke + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = out + "/ppo_maze_smoke";
  for (const char* f : {"/spec.ini", "/run.json", "/metrics.csv", "/checkpoints/update_0000016.pt"})
    EXPECT_FALSE(test::read_file(run + f).empty()) << f;
  const auto rows = read_csv(run + "/metrics.csv");
  ASSERT_EQ(rows.size(), 17u);  // header + 16 updates
  for (const char* column : {"global_step", "charts/episodic_return", "charts/cheese_rate", "charts/corner_rate",
                             "losses/approx_kl", "losses/clipfrac", "losses/explained_variance"})
    EXPECT_NE(std::find(rows[0].begin(), rows[0].end(), column), rows[0].end()) << column;
  EXPECT_NE(r.err.find("train ppo_maze_smoke"), std::string::npos);  // the progress line

  const auto e = run_cli("eval " + run + " --set env.placement=uniform --episodes 40 --out " + out + "/eval.json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const std::string json = test::read_file(out + "/eval.json");
  for (const char* key : {"\"episodes\": 40", "\"mean_return\"", "\"mean_length\"", "\"cheese_rate\"",
                          "\"corner_rate\"", "\"cheese_rate_ci95\"", "\"placement\": \"uniform\""})
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
}

TEST(Training, SameSpecSeedAndThreadsGiveTheSameMetrics) {
  const std::string a = test::make_temp_dir(), b = test::make_temp_dir();
  ASSERT_EQ(run_cli("train " + kSmoke + " --set train.total_steps=8192 --out " + a).exit_code, 0);
  ASSERT_EQ(run_cli("train " + kSmoke + " --set train.total_steps=8192 --out " + b).exit_code, 0);
  const auto ma = without_clock(read_csv(a + "/ppo_maze_smoke/metrics.csv"));
  const auto mb = without_clock(read_csv(b + "/ppo_maze_smoke/metrics.csv"));
  EXPECT_EQ(ma.size(), 9u);
  EXPECT_EQ(ma, mb);
  // A different seed gives different numbers.
  const std::string c = test::make_temp_dir();
  ASSERT_EQ(run_cli("train " + kSmoke + " --set train.total_steps=8192 --set run.seed=2 --out " + c).exit_code, 0);
  EXPECT_NE(without_clock(read_csv(c + "/ppo_maze_smoke/metrics.csv")), ma);
}

// A curriculum as a spec key: from step 8192 (update 9 of 16) episodes last at most 5 steps; the
// updates before it are those of the run without the schedule, and the run says when it changed.
TEST(Training, EnvScheduleChangesTheEnvironmentsMidRun) {
  const std::string a = test::make_temp_dir(), b = test::make_temp_dir();
  const auto r = run_cli("train " + kSmoke + " --set train.env_schedule=8192:env.max_episode_steps=5 --out " + a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("train.env_schedule: env.max_episode_steps = 5 from update 9 (step 8192)"), std::string::npos)
      << r.err;
  ASSERT_EQ(run_cli("train " + kSmoke + " --out " + b).exit_code, 0);
  const auto scheduled = without_clock(read_csv(a + "/ppo_maze_smoke/metrics.csv"));
  const auto plain = without_clock(read_csv(b + "/ppo_maze_smoke/metrics.csv"));
  ASSERT_EQ(scheduled.size(), 17u);
  for (size_t row = 1; row <= 8; ++row) EXPECT_EQ(scheduled[row], plain[row]) << "update " << row;
  const auto& header = scheduled[0];
  const size_t length = std::find(header.begin(), header.end(), "charts/episodic_length") - header.begin();
  ASSERT_LT(length, header.size());
  bool longer_before = false;
  for (size_t row = 1; row < scheduled.size(); ++row) {
    const double mean = scheduled[row][length].empty() ? 0 : std::stod(scheduled[row][length]);
    if (row <= 8) longer_before |= mean > 5;
    if (row >= 9) EXPECT_LE(mean, 5.0) << "update " << row;
  }
  EXPECT_TRUE(longer_before);
  // A malformed schedule is one line before a run folder exists.
  const std::string c = test::make_temp_dir() + "/runs";
  for (const auto& [schedule, needle] : std::vector<std::pair<std::string, std::string>>{
           {"abc", "expected STEP:env.KEY=VALUE"},
           {"100:agent.hidden=3", "only env.* keys"},
           {"100:env.max_episode_steps=-1", "env.max_episode_steps"},
           {"200:env.max_episode_steps=5;100:env.max_episode_steps=9", "steps must be at least 1 and increase"},
           {"100:env.observation=rgb", "changes the observation or action shape"}}) {
    test::expect_one_line_error(run_cli("train " + kSmoke + " --set 'train.env_schedule=" + schedule + "' --out " + c),
                                needle);
    EXPECT_FALSE(std::filesystem::exists(c)) << schedule;
  }
}

TEST(Training, ResumeAfterKill9LeavesNoGapOrDuplicate) {
  const std::string out = test::make_temp_dir();
  const std::string args =
      "train " + kSmoke + " --set train.total_steps=40960 --set run.checkpoint_every=3 --out " + out;
  // Start, wait for the second checkpoint, kill -9 mid-run.
  const auto killed =
      run_shell("( " + std::string(SHARDLAB_CLI) + " " + args + " & pid=$!; " + "for i in $(seq 600); do [ -e " + out +
                "/ppo_maze_smoke/checkpoints/update_0000006.pt ] && break; sleep 0.1; done; "
                "sleep 0.3; kill -9 $pid; wait $pid; echo killed=$? )");
  ASSERT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  const auto partial = read_csv(out + "/ppo_maze_smoke/metrics.csv");
  ASSERT_LT(partial.size(), 41u);

  const auto resumed = run_cli(args + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming"), std::string::npos) << resumed.err;
  const auto rows = read_csv(out + "/ppo_maze_smoke/metrics.csv");
  ASSERT_EQ(rows.size(), 41u);  // header + 40 updates
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0], std::to_string(1024 * i)) << "row " << i;
    EXPECT_EQ(rows[i][1], std::to_string(i)) << "row " << i;
  }
  // A run folder is never silently reused, and a resume must keep the spec.
  const auto again = run_cli(args);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  const auto changed = run_cli(args + " --set train.learning_rate=1e-3 --resume");
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_NE(changed.err.find("train.learning_rate"), std::string::npos) << changed.err;
}

// A resumed run's progress line counts its rate from where it resumed, not from step 0 (it
// printed 198,209 steps/s and a too-short eta right after resuming a 9,000 steps/s run).
TEST(Training, ResumedProgressRateCountsOnlyTheNewSteps) {
  Progress progress("train resumed");
  progress.count_from(3'000'000);
  testing::internal::CaptureStderr();
  progress.finish(3'000'000, 6'000'000, "");
  const std::string line = testing::internal::GetCapturedStderr();
  EXPECT_NE(line.find("3000000/6000000 (50%) 0/s"), std::string::npos) << line;
}

TEST(Training, NonFiniteLossStopsWithOneLineError) {
  const std::string out = test::make_temp_dir();
  const auto r =
      run_cli("train " + kSmoke +
              " --set train.learning_rate=1 --set train.max_grad_norm=1e6 --set train.anneal_lr=false --out " + out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("non-finite loss"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // No row or checkpoint comes from the diverged update.
  const auto rows = read_csv(out + "/ppo_maze_smoke/metrics.csv");
  for (size_t i = 1; i < rows.size(); ++i)
    for (const auto& cell : rows[i]) EXPECT_EQ(cell.find("nan"), std::string::npos);
}

TEST(Training, SavesEveryTransitionWhenAsked) {
  const std::string out = test::make_temp_dir();
  const auto r =
      run_cli("train " + kSmoke + " --set train.total_steps=4096 --set run.save_experience=true --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto check = run_shell(
      "/usr/bin/python3 -c \"import h5py,sys;f=h5py.File(sys.argv[1]);"
      "n=len(f['rewards']);sys.exit(0 if n==4096 and f['observations'].shape[1:]==(3,15,15) "
      "and f['terminals'].dtype==bool else 1)\" " +
      out + "/ppo_maze_smoke/experience.h5");
  EXPECT_EQ(check.exit_code, 0) << check.err;
}

TEST(Training, ReinforceRunsFromTheSameSpec) {
  const std::string out = test::make_temp_dir();
  const auto r = run_cli("train " + kSmoke + " --set agent.algo=reinforce --set train.total_steps=8192 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_csv(out + "/ppo_maze_smoke/metrics.csv").size(), 9u);
}

TEST(Training, BadCheckpointsGiveOneLineErrors) {
  const std::string dir = test::make_temp_dir();
  std::ofstream(dir + "/junk.pt") << "junk";
  auto r = run_cli("eval " + dir + "/junk.pt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("junk.pt"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cli("eval " + dir);
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace shardlab
