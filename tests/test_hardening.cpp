// The hardening rules, one test per rule (the numbered items of the hardening issue): nothing a
// user owns is lost or overwritten without --force, and every bad input is one line with exit 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "analysis/maze_policy.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"
#include "core/spec.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::run_shell;

using test::kSmoke;

// Long commands may print progress lines before their error.
void expect_error_after_progress(const test::CommandResult& r, const std::string& needle) {
  test::expect_one_line_error(r, needle, /*after_progress=*/true);
}

using test::write_file;

std::vector<std::string> temporaries_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// 1. --force never replaces what is not a regular file.
TEST(Hardening, ForceReplacesOnlyRegularFiles) {
  const std::string dir = test::make_temp_dir();
  write_file(dir + "/target.h5", "mine");
  fs::create_symlink(dir + "/target.h5", dir + "/link.h5");
  ASSERT_EQ(::mkfifo((dir + "/fifo.h5").c_str(), 0600), 0);
  fs::create_directory(dir + "/folder.h5");
  for (const char* name : {"link.h5", "fifo.h5", "folder.h5"}) {
    const auto r = run_cli("collect --env maze --policy random --steps 10 --force --out " + dir + "/" + name);
    expect_error_after_progress(r, "shardlab only writes regular files");
  }
  EXPECT_TRUE(fs::is_symlink(dir + "/link.h5"));
  EXPECT_EQ(test::read_file(dir + "/target.h5"), "mine");
  EXPECT_EQ(fs::status(dir + "/fifo.h5").type(), fs::file_type::fifo);
  EXPECT_TRUE(temporaries_in(dir).empty());
}

// 2. An existing output is kept unless --force, for every command, checked before the work.
TEST(Hardening, ExistingOutputsAreKeptWithoutForce) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  // collect's spec sidecar
  write_file(dir + "/a.h5.spec.ini", "mine");
  expect_error_after_progress(run_cli("collect --env maze --steps 10 --out " + dir + "/a.h5"), "a.h5.spec.ini exists");
  EXPECT_FALSE(fs::exists(dir + "/a.h5"));
  ASSERT_EQ(run_cli("collect --env maze --steps 10 --force --out " + dir + "/a.h5").exit_code, 0);
  EXPECT_NE(test::read_file(dir + "/a.h5.spec.ini"), "mine");
  // eval --out, maze show --svg
  write_file(dir + "/eval.json", "mine");
  expect_error_after_progress(run_cli("eval --env maze --policy random --episodes 2 --out " + dir + "/eval.json"),
                              "eval.json exists; pass --force");
  write_file(dir + "/mazes.svg", "mine");
  expect_error_after_progress(run_cli("maze show --seed 1 --svg " + dir + "/mazes.svg"), "mazes.svg exists");
  // every study's files, refused before the study runs
  const std::vector<std::pair<std::string, std::string>> studies = {
      {"cheese-vector --seeds 0:20", "cheese_vector_summary.json"},
      {"top-right-vector --seeds 0:20", "top_right_vector.csv"},
      {"channels --seeds 0:20", "channels_top.svg"},
      {"resample --channels 0 --seeds 0:20", "resample.json"},
      {"channels --seeds 0:20", "channels_summary.json"},
      {"retarget --protocol ours --channels 0 --seeds 0:2", "retarget.svg"},
      {"retarget --channel 0 --effective-channels 0 --cheese-channels 0 --seeds 0:2", "retarget_reference.csv"},
      {"behaviour --protocol ours --seeds 0:40", "behaviour.json"},
      {"behaviour --episodes 100", "behaviour_reference.json"},
  };
  fs::create_directory(dir + "/analysis");
  for (const auto& [study, file] : studies) {
    write_file(dir + "/analysis/" + file, "mine");
    expect_error_after_progress(run_cli("analyze " + study.substr(0, study.find(' ')) + " " + policy +
                                        study.substr(study.find(' ')) + " --out " + dir + "/analysis"),
                                file + " exists; pass --force");
    EXPECT_EQ(test::read_file(dir + "/analysis/" + file), "mine") << study;
  }
  write_file(dir + "/field.svg", "mine");
  expect_error_after_progress(run_cli("analyze vector-field " + policy + " --seed 1 --svg " + dir + "/field.svg"),
                              "field.svg exists");
  // record and inspect --svg
  ASSERT_EQ(run_cli("analyze record " + policy + " --seeds 0:3 --out " + dir + "/log.h5").exit_code, 0);
  expect_error_after_progress(run_cli("analyze record " + policy + " --seeds 0:3 --out " + dir + "/log.h5"),
                              "log.h5 exists");
  const std::string layer = "embedder.block2.res1.resadd_out";
  write_file(dir + "/layer.svg", "mine");
  expect_error_after_progress(run_cli("inspect " + dir + "/log.h5 --layer " + layer + " --svg " + dir + "/layer.svg"),
                              "layer.svg exists");
  EXPECT_EQ(test::read_file(dir + "/layer.svg"), "mine");
  ASSERT_EQ(run_cli("inspect " + dir + "/log.h5 --layer " + layer + " --svg " + dir + "/layer.svg --force").exit_code,
            0);
  EXPECT_NE(test::read_file(dir + "/layer.svg"), "mine");
}

// 3. render --force into a folder of a longer episode leaves only the new episode's frames.
TEST(Hardening, RenderForceRemovesTheEarlierEpisodesExtraFrames) {
  const std::string dir = test::make_temp_dir();
  const auto first = run_cli("render --env lunar_lander --policy random --every 5 --out " + dir + "/frames");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto count = [&] { return std::distance(fs::directory_iterator(dir + "/frames"), fs::directory_iterator()); };
  const auto before = count();
  write_file(dir + "/frames/notes.txt", "mine");  // not a frame: kept
  const auto second = run_cli("render --env lunar_lander --policy random --every 50 --force --out " + dir + "/frames");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const int64_t written = std::stoll(second.out.substr(second.out.find("wrote ") + 6));
  EXPECT_LT(written, before);
  EXPECT_EQ(count(), written + 1);
  EXPECT_NE(second.err.find("removed"), std::string::npos) << second.err;
  EXPECT_EQ(test::read_file(dir + "/frames/notes.txt"), "mine");
}

// 4. SIGINT/SIGTERM remove the temporary; after SIGKILL the next start removes it, saying so.
TEST(Hardening, KilledWritersLeaveNoTemporaryBehind) {
  const std::string dir = test::make_temp_dir();
  const std::string collect =
      std::string(SHARDLAB_CLI) + " collect --env maze --steps 100000000 --out " + dir + "/big.h5";
  for (const char* signal : {"INT", "TERM", "KILL"}) {
    const auto r = run_shell("( " + collect + " & pid=$!; for i in $(seq 300); do ls " + dir +
                             " | grep -q tmp && break; sleep 0.1; done; sleep 0.5; kill -" + signal +
                             " $pid; wait $pid; echo status=$? )");
    ASSERT_NE(r.out.find("status="), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("status=0\n"), std::string::npos) << signal << ": " << r.out;
    EXPECT_FALSE(fs::exists(dir + "/big.h5")) << signal;
    if (std::string(signal) != "KILL") {
      EXPECT_TRUE(temporaries_in(dir).empty()) << signal;
    }
  }
  ASSERT_EQ(temporaries_in(dir).size(), 1u);  // SIGKILL cannot be caught
  const std::string stale = temporaries_in(dir)[0];
  const auto next = run_cli("collect --env maze --steps 10 --out " + dir + "/big.h5");
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("removed " + stale), std::string::npos) << next.err;
  EXPECT_TRUE(temporaries_in(dir).empty());
}

// 5. One flipped bit anywhere in an experience file is a read error or changes nothing.
TEST(Hardening, FlippedBitsInExperienceFilesAreCaughtByChecksums) {
  const std::string dir = test::make_temp_dir();
  ASSERT_EQ(run_cli("collect --env maze --set env.num_envs=4 --steps 400 --out " + dir + "/good.h5").exit_code, 0);
  const std::string good = test::read_file(dir + "/good.h5");
  // Each copy gets its own file: HDF5 shares an open file's cache by inode within a process.
  std::string path = dir + "/copy.h5";
  const auto everything = [&path] {
    ExperienceReader reader(path);
    const Experience e = read_experience(path);
    std::ostringstream s;
    for (const auto& [k, v] : reader.metadata()) s << k << '=' << v << ';';
    s << e.size() << ';' << describe_h5(path).substr(path.size());
    for (size_t i = 0; i < e.size(); ++i)
      s << e.rewards[i] << int(e.terminals[i]) << int(e.timeouts[i]) << e.discrete_actions[i] << ' ';
    double sum = 0;
    for (float x : e.observations) sum += x;
    s << sum;
    return s.str();
  };
  write_file(path, good);
  const std::string expected = everything();
  int caught = 0, same = 0;
  for (size_t k = 0; k < 300; ++k) {
    std::string bad = good;
    const size_t at = 8 + (k * 7919) % (good.size() - 8);
    bad[at] = static_cast<char>(bad[at] ^ (1 << (k % 8)));
    path = dir + "/flipped" + std::to_string(k) + ".h5";
    write_file(path, bad);
    try {
      EXPECT_EQ(everything(), expected) << "a flipped bit at byte " << at << " changed what was read";
      ++same;
    } catch (const FileError& e) {
      ++caught;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(caught, 250) << same << " flips changed nothing";
}

// 6. A corrupt checkpoint is one line; a resume falls back to the previous one.
TEST(Hardening, CorruptCheckpointsAreRefusedAndResumeFallsBack) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  const std::string bytes = test::read_file(policy);
  int caught = 0;
  for (size_t k = 0; k < 40; ++k) {
    std::string bad = bytes;
    const size_t at = (k * 104729) % bytes.size();
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    write_file(dir + "/bad.pt", bad);
    try {
      load_policy(dir + "/bad.pt", shardlab_schema());
    } catch (const FileError& e) {
      ++caught;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(caught, 30);
  std::string bad = bytes;
  bad[bytes.size() / 2] = static_cast<char>(bad[bytes.size() / 2] ^ 1);
  write_file(dir + "/bad.pt", bad);
  expect_error_after_progress(run_cli("eval " + dir + "/bad.pt --episodes 2"), "bad.pt");

  // NaN weights: refused on load, not sampled from.
  {
    LoadedPolicy p = load_policy(policy, shardlab_schema());
    torch::NoGradGuard no_grad;
    p.net->parameters()[0].fill_(std::numeric_limits<float>::quiet_NaN());
    save_policy(dir + "/nan.pt", *p.net, Spec::from_text(shardlab_schema(), p.spec_ini, "spec", {}));
  }
  expect_error_after_progress(run_cli("eval " + dir + "/nan.pt --episodes 2"), "non-finite");
  expect_error_after_progress(run_cli("analyze behaviour " + dir + "/nan.pt --protocol ours --seeds 0:40 --out " + dir),
                              "non-finite");

  // A resume whose newest checkpoint is corrupt sets it aside and continues from the one before.
  const std::string args = "train " + kSmoke +
                           " --set train.total_steps=4096 --set run.checkpoint_every=1 --set run.keep_checkpoints=3 "
                           "--out " +
                           dir + "/runs";
  ASSERT_EQ(run_cli(args).exit_code, 0);
  const std::string checkpoints = dir + "/runs/ppo_maze_smoke/checkpoints/";
  const std::string newest = checkpoints + "update_0000004.pt";
  std::string ckpt = test::read_file(newest);
  ckpt[ckpt.size() / 2] = static_cast<char>(ckpt[ckpt.size() / 2] ^ 1);
  write_file(newest, ckpt);
  const auto resumed = run_cli(args + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("set aside as " + newest + ".corrupt"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("from " + checkpoints + "update_0000003.pt"), std::string::npos) << resumed.err;
  EXPECT_TRUE(fs::exists(newest + ".corrupt"));
  EXPECT_NO_THROW(load_policy(newest, shardlab_schema()));  // written again by the resumed update
  // 11. time_s is the run's cumulative training time: it never goes back on resume.
  std::ifstream csv(dir + "/runs/ppo_maze_smoke/metrics.csv");
  std::string line;
  std::getline(csv, line);
  double previous = -1;
  int rows = 0;
  while (std::getline(csv, line)) {
    const double time_s = std::stod(split(line, ',')[2]);
    EXPECT_GE(time_s, previous) << line;
    previous = time_s;
    ++rows;
  }
  EXPECT_EQ(rows, 4);
}

// 7. Every number is finite and in range; checked where it is given.
TEST(Hardening, NonFiniteAndOutOfRangeNumbersAreRefused) {
  for (const char* set : {"train.learning_rate=nan", "train.gamma=inf", "train.learning_rate=1e38", "ppo.clip_coef=-1",
                          "train.max_grad_norm=0", "train.reward_clip=-inf", "env.num_envs=0"})
    EXPECT_THROW(Spec::load(shardlab_schema(), "", {set}), InputError) << set;
  const std::string dir = test::make_temp_dir();
  expect_error_after_progress(run_cli("train " + kSmoke + " --set ppo.num_minibatches=100000 --out " + dir),
                              "ppo.num_minibatches = 100000 is more than the rollout's rows");
  EXPECT_FALSE(fs::exists(dir + "/ppo_maze_smoke"));  // refused before the run folder exists
  const std::string policy = test::untrained_maze_policy(dir);
  expect_error_after_progress(
      run_cli("analyze retarget " + policy + " --protocol ours --channels 0 --seeds 0:2 --value nan"),
      "--value nan: expected a finite number");
  expect_error_after_progress(run_cli("analyze cheese-vector " + policy + " --seeds 0:2 --coeff inf"), "--coeff inf");
  expect_error_after_progress(run_cli("analyze channels " + policy + " --seeds 0:20 --top -1 --out " + dir),
                              "--top -1: expected at least 1");
  expect_error_after_progress(run_cli("render --env lunar_lander --every 0 --out " + dir + "/f"), "--every 0");
  expect_error_after_progress(run_cli("collect --env maze --steps 0 --out " + dir + "/x.h5"), "--steps 0");
}

// 8. A spec that cannot fit in memory is refused before anything is allocated.
TEST(Hardening, SpecsThatCannotFitInMemoryAreRefused) {
  const std::string dir = test::make_temp_dir();
  expect_error_after_progress(run_cli("train " + kSmoke + " --set env.num_envs=1000000000 --out " + dir),
                              "env.num_envs");
  EXPECT_FALSE(fs::exists(dir + "/ppo_maze_smoke"));
  expect_error_after_progress(run_cli("train " + kSmoke + " --set train.num_steps=100000000 --out " + dir),
                              "train.num_steps = 100000000");
  expect_error_after_progress(
      run_cli("collect --env maze --set env.num_envs=1000000000 --steps 10 --out " + dir + "/x.h5"),
      "env.num_envs = 1000000000");
}

// 8b. Maze sizes and cheese placements the generator cannot honour are refused before the run
// folder exists.
TEST(Hardening, BadMazeSizesAndPlacementsAreRefusedBeforeWriting) {
  const std::string dir = test::make_temp_dir();
  expect_error_after_progress(
      run_cli("train " + kSmoke + " --set env.min_maze_size=11 --set env.max_maze_size=9 --out " + dir),
      "env.min_maze_size = 11 is larger than env.max_maze_size = 9");
  expect_error_after_progress(run_cli("train " + kSmoke + " --set env.placement=top_right_region:2*0,3 --out " + dir),
                              "placement 'top_right_region:2*0,3'");
  EXPECT_FALSE(fs::exists(dir + "/ppo_maze_smoke"));
}

// 9. A spec is a file; training needs one.
TEST(Hardening, SpecMustBeAFile) {
  const std::string dir = test::make_temp_dir();
  expect_error_after_progress(run_cli("train " + dir), "is a folder, not a spec file");
  expect_error_after_progress(run_cli("spec show " + dir), "is a folder, not a spec file");
  expect_error_after_progress(run_cli("train --out " + dir), "expected a spec file");
}

// 11. The small ones.
TEST(Hardening, SmallRoughEdges) {
  // Interval bounds at 0 and 1 are exact.
  EXPECT_EQ(wilson_interval(0, 50).low, 0.0);
  EXPECT_EQ(wilson_interval(50, 50).high, 1.0);
  EXPECT_GT(wilson_interval(1, 50).low, 0.0);
  // A non-spatial layer cannot be drawn.
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  ASSERT_EQ(run_cli("analyze record " + policy + " --seeds 0:2 --out " + dir + "/log.h5").exit_code, 0);
  const auto maze_policy = analysis::MazePolicy::load(policy, shardlab_schema(), {});
  std::string flat;
  for (const auto& layer : maze_policy.layers())
    if (maze_policy.layer_shape(layer).size() != 3) flat = layer;
  ASSERT_FALSE(flat.empty());
  expect_error_after_progress(run_cli("inspect " + dir + "/log.h5 --layer " + flat + " --svg " + dir + "/x.svg"),
                              "is not spatial");
  EXPECT_FALSE(fs::exists(dir + "/x.svg"));
  // The divergence message never names a checkpoint that was not written.
  const auto diverged =
      run_cli("train " + kSmoke +
              " --set train.learning_rate=1 --set train.max_grad_norm=1e6 --set train.anneal_lr=false "
              "--set run.checkpoint_every=1000 --out " +
              dir + "/runs");
  ASSERT_EQ(diverged.exit_code, 1) << diverged.err;
  const std::string checkpoints = dir + "/runs/ppo_maze_smoke/checkpoints";
  if (fs::is_empty(checkpoints))
    EXPECT_NE(diverged.err.find("no checkpoint was written"), std::string::npos) << diverged.err;
  else
    EXPECT_NE(diverged.err.find("the last good checkpoint is " + checkpoints), std::string::npos) << diverged.err;
}

}  // namespace
}  // namespace shardlab
