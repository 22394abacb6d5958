// The grid runner on a real single-node SLURM (scripts/slurm-local.sh): a sweep and the
// wrong-reward ablation emitted as job arrays, one per stage, each later stage after the one
// before (--dependency=afterok). Each grid is submitted, one running cell's array task is
// cancelled (so the later stages never start), and submitted again: every cell finishes exactly
// once (the cancelled one resumes from its checkpoint, the finished ones are skipped) and the
// summary is written. The ablation is experiments/survival_instinct_full.ini reduced by --set to
// one dataset, two beta candidates and two reported ATAC cells (true reward and its
// no-termination control), tiny networks and few steps: its choose stage's beta reaches the
// atac stage's jobs through the file they read at start. Then a data-parallel run as a 2-task
// srun step, resumed and evaluated.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::read_csv;

using test::kSmoke;

// SLURM output files of `stage` in DIR/logs, and how many of them found their cell finished.
std::pair<int, int> slurm_outputs(const std::string& dir, const std::string& stage) {
  int outputs = 0, skipped = 0;
  for (const auto& e : fs::directory_iterator(dir + "/logs"))
    if (e.path().filename().string().rfind("slurm-" + stage + "-", 0) == 0) {
      ++outputs;
      skipped += test::read_file(e.path().string()).find("finished already") != std::string::npos;
    }
  return {outputs, skipped};
}

nlohmann::json history(const std::string& run) {
  return nlohmann::json::parse(test::read_file(run + "/run.json"))["history"];
}

// Updates 1..n, each once.
void expect_rows_once(const std::string& csv, size_t n) {
  const auto rows = read_csv(csv);
  ASSERT_EQ(rows.size(), n + 1) << csv;
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i][1], std::to_string(i)) << csv;
}

TEST(GridSlurm, SweepAndAblationRunAsDependentJobArraysOnARealSlurm) {
  const std::string dir = test::make_temp_dir();
  const std::string self = SHARDLAB_CLI, sweep = dir + "/sweep", grid = dir + "/ablation", dp = dir + "/dp";
  const std::string cell0 = "lunar_lander_continuous-medium-replay-atac-true-beta0.25-s100";
  // The paper-scale spec, reduced: the lander's medium-replay data from a short expert run; beta
  // 0.25 or 4 chosen on seed 100; ATAC true and its no-termination control on seed 0.
  std::string reduced = " --set ablate.out=" + grid + " --set dataset.runs=" + dir + "/experts";
  for (const char* set : {"ablate.tasks=lunar_lander_continuous",
                          "ablate.datasets=medium-replay",
                          "ablate.algos=atac",
                          "ablate.rewards=true",
                          "ablate.rewards_algo_atac=",
                          "ablate.seeds=0:1",
                          "ablate.bc=false",
                          "ablate.noterm_algos=atac",
                          "ablate.noterm_rewards=true",
                          "ablate.atac_betas=0.25,4",
                          "ablate.beta_seeds=100:101",
                          "ablate.overrides_lunar_lander_continuous=agent.torso=mlp;agent.hidden=32",
                          "ablate.overrides_algo_atac=",
                          "atac.hidden=32",
                          "atac.warmup_steps=100",
                          "dataset.size=3000",
                          "dataset.expert_total_steps=8192",
                          "dataset.reference_episodes=5",
                          "offline.steps=1500",
                          "offline.log_every=50",
                          "offline.eval_every=1500",
                          "offline.eval_episodes=3",
                          "offline.batch_size=64",
                          "run.checkpoint_every=1"})
    reduced += std::string(" --set '") + set + "'";  // the job script is shell: ';' would end the command
  std::ofstream(dir + "/job.sh")
      << "set -eu\n"
      << "wait_queue() { for i in $(seq 3000); do [ -z \"$(squeue -h -o %i)\" ] && return 0; sleep 0.2; done;\n"
      << "  echo 'the queue did not empty' >&2; squeue >&2; return 1; }\n"
      // submit_and_cancel GRID STAGE INDEX FILE: submit the grid; cancel that array task once FILE exists.
      << "submit_and_cancel() { out=$(bash $1/submit.sh); job=$(echo \"$out\" | sed -n \"s/^$2: job //p\");\n"
      << "  for i in $(seq 1200); do [ -e \"$4\" ] && break; sleep 0.05; done; scancel \"${job}_$3\"; wait_queue; }\n"
      << self << " sweep " << kSmoke << " --seeds 0:2 --out " << sweep
      << " --set train.total_steps=8192 --set agent.channels=4,8,8 --set agent.hidden=32"
      << " --set run.checkpoint_every=1 --episodes 8 --emit slurm --time 10\n"
      << "submit_and_cancel " << sweep << " runs 1 " << sweep << "/runs/s1/metrics.csv\n"
      << "test ! -e " << sweep << "/summary.md\n"
      << "bash " << sweep << "/submit.sh >/dev/null; wait_queue\n"
      << self << " ablate " << SHARDLAB_SOURCE_DIR << "/experiments/survival_instinct_full.ini" << reduced
      << " --emit slurm --time 10\n"
      << "submit_and_cancel " << grid << " runs 0 " << grid << "/runs/" << cell0 << "/metrics.csv\n"
      << "test ! -e " << grid << "/ablation.md\n"
      << "bash " << grid << "/submit.sh >/dev/null; wait_queue\n"
      << self << " grid status " << grid << " >" << dir << "/status.out\n"
      << "train='srun --ntasks=2 --kill-on-bad-exit=1 " << self << " train " << kSmoke
      << " --set train.total_steps=4096 --set run.checkpoint_every=1 --set run.name=dp --out " << dp << "'\n"
      << "$train >" << dir << "/dp1.out 2>" << dir << "/dp1.err\n"
      << "$train --resume >" << dir << "/dp2.out 2>" << dir << "/dp2.err\n";
  // Where it can (root, mount namespaces), the cluster runs with no cgroup filesystem, as in a
  // chroot or an unprivileged container: an empty tmpfs over /sys/fs/cgroup in a mount namespace
  // of its own (hardening round two, case 18).
  const std::string script =
      "timeout 800 " + std::string(SHARDLAB_SOURCE_DIR) + "/scripts/slurm-local.sh bash " + dir + "/job.sh";
  const bool hide_cgroups = test::run_shell("unshare -m true").exit_code == 0;
  const auto r = test::run_shell(
      hide_cgroups ? "unshare -m sh -c \"mount -t tmpfs none /sys/fs/cgroup && " + script + "\"" : script);
  std::cout << (hide_cgroups ? "[ cgroups  ] hidden: an empty tmpfs over /sys/fs/cgroup\n"
                             : "[ cgroups  ] as the machine has them (unshare -m is not allowed here)\n");
  if (r.exit_code == 77) {
    // The script's exit code for "this machine cannot run slurmd" (no root, packages not
    // installable, slurmd exits while starting); its last stderr line says which.
    const std::string reason = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    GTEST_SKIP() << reason;
  }
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // The sweep: s1 was cancelled while training and resumed; s0 trained once; each of the 8
  // updates once; the first submission's summary never ran, the second's did.
  for (const char* cell : {"s0", "s1"}) {
    EXPECT_TRUE(fs::exists(sweep + "/runs/" + cell + "/eval.json")) << cell;
    expect_rows_once(sweep + "/runs/" + cell + "/metrics.csv", 8);
  }
  EXPECT_EQ(history(sweep + "/runs/s0").size(), 1u);
  EXPECT_EQ(history(sweep + "/runs/s1").back()["event"], "resume");
  EXPECT_EQ(slurm_outputs(sweep, "runs"), std::make_pair(4, 1));  // the second found s0 finished
  EXPECT_EQ(slurm_outputs(sweep, "summary"), std::make_pair(1, 0));
  EXPECT_NE(test::read_file(sweep + "/summary.md").find("Every cell finished."), std::string::npos);
  EXPECT_EQ(read_csv(sweep + "/summary.csv").size(), 2u);

  // The ablation: datasets made once, each cell once (the cancelled one resumed), the beta chosen
  // once and read by both ATAC cells, the table.
  EXPECT_EQ(slurm_outputs(grid, "datasets"), std::make_pair(2, 1));
  EXPECT_EQ(slurm_outputs(grid, "choose"), std::make_pair(1, 0));
  EXPECT_EQ(slurm_outputs(grid, "summary"), std::make_pair(1, 0));
  EXPECT_EQ(history(grid + "/runs/" + cell0).back()["event"], "resume");
  EXPECT_TRUE(fs::exists(grid + "/datasets/lunar_lander_continuous-medium-replay-noterm.h5"));
  const std::string chosen = test::read_file(grid + "/choices/lunar_lander_continuous-medium-replay-beta.txt");
  EXPECT_TRUE(chosen == "0.25\n" || chosen == "4\n") << chosen;
  int cells = 0;
  for (const auto& e : fs::directory_iterator(grid + "/runs")) {
    ++cells;
    EXPECT_TRUE(fs::exists(e.path() / "result.json")) << e.path();
    expect_rows_once((e.path() / "metrics.csv").string(), 30);
  }
  EXPECT_EQ(cells, 4);
  for (const char* cell : {"lunar_lander_continuous-medium-replay-atac-true-s0",
                           "lunar_lander_continuous-medium-replay-noterm-atac-true-s0"})
    EXPECT_NE(test::read_file(grid + "/runs/" + cell + "/spec.ini").find("beta = " + chosen), std::string::npos)
        << cell;
  EXPECT_EQ(read_csv(grid + "/cells.csv").size(), 3u);
  const std::string table = test::read_file(grid + "/ablation.md");
  EXPECT_NE(table.find("Every cell finished."), std::string::npos) << table;
  EXPECT_NE(table.find("atac true noterm"), std::string::npos) << table;
  EXPECT_EQ(test::read_file(dir + "/status.out"), "6 of 6 cells finished\n");

  // The srun run: rank 0 alone printed the folder and wrote it; all four updates once each.
  const std::string dp1 = test::read_file(dir + "/dp1.out"), dp1_err = test::read_file(dir + "/dp1.err");
  EXPECT_EQ(dp1, "run folder: " + dp + "/dp\n") << dp1_err;
  EXPECT_NE(dp1_err.find("data-parallel: 2 ranks of 8 environments"), std::string::npos) << dp1_err;
  EXPECT_NE(test::read_file(dir + "/dp2.err").find("(update 4, step 4096)"), std::string::npos);
  expect_rows_once(dp + "/dp/metrics.csv", 4);
  EXPECT_EQ(nlohmann::json::parse(test::read_file(dp + "/dp/run.json"))["world_size"], 2);
  const auto eval = test::run_cli("eval " + dp + "/dp --episodes 4");
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

}  // namespace
}  // namespace shardlab
