// Offline RL's data and runs: next-observation indexing, relabeling (in memory, as a copy, read
// by h5py), sampling, bad datasets, offline runs through the CLI (metrics, result, resume after
// kill -9, the policy in `eval` and `analyze`), and the ablation grid's resumability.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/experience_file.h"
#include "offline/dataset.h"
#include "offline/relabel.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using test::run_cli;
namespace fs = std::filesystem;

// A hand-made file: 10 rows of 3-dim observations (row i holds i, i + 0.25, i + 0.5), 2-dim
// actions, rewards i; episodes end at row 2 (terminal), row 5 (timeout), row 8 (terminal);
// row 9 is an unfinished episode.
std::string write_small(const std::string& path, bool with_next = false, float bad_reward = 0.0f) {
  ObservationSpec os;
  os.shape = {3};
  os.low = -100;
  os.high = 100;
  ActionSpec as;
  as.discrete = false;
  as.dim = 2;
  Experience e;
  e.observation_spec = os;
  e.action_spec = as;
  for (int i = 0; i < 10; ++i) {
    for (float d : {0.0f, 0.25f, 0.5f}) e.observations.push_back(i + d);
    if (with_next)
      for (float d : {0.0f, 0.25f, 0.5f}) e.next_observations.push_back(100 + i + d);
    e.continuous_actions.push_back(0.1f * i);
    e.continuous_actions.push_back(-0.1f * i);
    e.rewards.push_back(i == 4 && bad_reward != 0.0f ? bad_reward : static_cast<float>(i));
    e.terminals.push_back(i == 2 || i == 8);
    e.timeouts.push_back(i == 5);
  }
  ExperienceWriter w(path, os, as, with_next, {}, {{"policy", "hand-made"}}, true);
  w.append(e);
  w.close();
  return path;
}

TEST(OfflineData, NextObservationIndexRespectsEpisodeEndsAndTimeouts) {
  const std::string dir = test::make_temp_dir();
  const ExperienceReader reader(write_small(dir + "/d.h5"));
  const auto k = ExperienceReader::kNoNext;
  EXPECT_EQ(reader.next_indices(), (std::vector<int64_t>{1, 2, 2, 4, 5, k, 7, 8, 8, k}));
  EXPECT_EQ(reader.metadata().at("policy"), "hand-made");
  const Experience middle = reader.read(3, 4);
  ASSERT_EQ(middle.size(), 4u);
  EXPECT_EQ(middle.rewards, (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(middle.timeouts, (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_THROW(reader.read(8, 3), FileError);
}

TEST(OfflineData, SamplesOnlyTransitionsWithAKnownNextObservation) {
  const std::string dir = test::make_temp_dir();
  const OfflineDataset d = OfflineDataset::load(write_small(dir + "/d.h5"), RewardLabel::kTrue, 0);
  EXPECT_EQ(d.rows(), 10);
  EXPECT_EQ(d.transitions(), 8);  // rows 5 (timeout) and 9 (unfinished) have none
  at::Generator gen = at::detail::createCPUGenerator(1);
  const Transitions b = d.sample(2000, gen, at::kCPU);
  const at::Tensor row = b.rewards.to(torch::kInt64);  // reward i marks row i
  for (int i : {5, 9}) EXPECT_EQ((row == i).sum().item<int64_t>(), 0) << i;
  for (int i : {0, 1, 2, 3, 4, 6, 7, 8}) EXPECT_GT((row == i).sum().item<int64_t>(), 150) << i;
  // Inside an episode the next observation is the next row's; at a terminal it is never used
  // (no bootstrap) and the terminal flag says so.
  const at::Tensor expected_next = torch::where(b.terminals.unsqueeze(1) > 0, b.observations, b.observations + 1);
  EXPECT_TRUE(torch::equal(b.next_observations, expected_next));
  EXPECT_TRUE(torch::equal(b.terminals, ((row == 2) | (row == 8)).to(torch::kFloat32)));
  EXPECT_TRUE(torch::allclose(b.actions.select(1, 0), 0.1f * row.to(torch::kFloat32)));

  // With stored next observations every row is a transition, timeouts included.
  const OfflineDataset n = OfflineDataset::load(write_small(dir + "/n.h5", true), RewardLabel::kTrue, 0);
  EXPECT_EQ(n.transitions(), 10);
  const Transitions nb = n.sample(64, gen, at::kCPU);
  EXPECT_TRUE(torch::equal(nb.next_observations, nb.observations + 100));
}

TEST(OfflineData, RelabelsEachKindAndNeverTouchesEpisodeEnds) {
  const std::vector<float> truth = {1.5f, -2.0f, 0.0f, 7.0f};
  auto labeled = [&](RewardLabel l, uint64_t seed, int64_t first) {
    std::vector<float> r = truth;
    relabel_rewards(l, seed, first, r);
    return r;
  };
  EXPECT_EQ(labeled(RewardLabel::kTrue, 0, 0), truth);
  EXPECT_EQ(labeled(RewardLabel::kZero, 0, 0), std::vector<float>(4, 0.0f));
  EXPECT_EQ(labeled(RewardLabel::kNegative, 0, 0), (std::vector<float>{-1.5f, 2.0f, -0.0f, -7.0f}));
  const auto random = labeled(RewardLabel::kRandom, 3, 0);
  for (float r : random) EXPECT_TRUE(r >= 0.0f && r < 1.0f) << r;
  EXPECT_NE(random, labeled(RewardLabel::kRandom, 4, 0));
  // Chunking does not change the labels: row 2 relabeled alone equals row 2 of the whole.
  std::vector<float> one = {truth[2]};
  relabel_rewards(RewardLabel::kRandom, 3, 2, one);
  EXPECT_EQ(one[0], random[2]);
  EXPECT_THROW(parse_reward_label("inverted", "offline.reward"), InputError);

  // The file copy: same labels as at load time, flags and observations unchanged, h5py reads it.
  const std::string dir = test::make_temp_dir();
  const std::string in = write_small(dir + "/in.h5");
  for (const char* kind : {"zero", "random", "negative"}) {
    const std::string out = dir + "/" + kind + ".h5";
    const auto r = run_cli("relabel " + in + " " + out + " --reward " + kind + " --seed 7");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Experience original = read_experience(in), copy = read_experience(out);
    EXPECT_EQ(copy.terminals, original.terminals);
    EXPECT_EQ(copy.timeouts, original.timeouts);
    EXPECT_EQ(copy.observations, original.observations);
    EXPECT_EQ(copy.continuous_actions, original.continuous_actions);
    std::vector<float> expected = original.rewards;
    relabel_rewards(parse_reward_label(kind, "test"), 7, 0, expected);
    EXPECT_EQ(copy.rewards, expected) << kind;
    const ExperienceReader reader(out);
    EXPECT_EQ(reader.metadata().at("policy"), "hand-made");
    EXPECT_EQ(reader.metadata().at("relabeled_from"), in);
    EXPECT_NE(reader.metadata().at("reward_relabel").find(kind), std::string::npos);
  }
  const auto h5py = test::run_shell(
      "/usr/bin/python3 -c \"import h5py,sys;f=h5py.File(sys.argv[1]);r=f['rewards'][:];m=f['metadata'].attrs;"
      "sys.exit(0 if r.min()>=0 and r.max()<1 and m['reward_relabel_low']==b'0.000000' and "
      "m['reward_relabel_high']==b'1.000000' and f['terminals'][2] and f['timeouts'][5] else 1)\" " +
      dir + "/random.h5");
  EXPECT_EQ(h5py.exit_code, 0) << h5py.out << h5py.err;
}

TEST(OfflineData, BadDatasetsGiveOneLineAndWriteNothing) {
  const std::string dir = test::make_temp_dir();
  const std::string small = write_small(dir + "/small.h5");
  const std::string common = " --set offline.steps=10 --set agent.torso=mlp --out " + dir + "/runs";
  // 3-dim observations do not fit the lander's 8.
  expect_one_line_error(
      run_cli("offline --set offline.dataset=" + small +
              " --set offline.env=spec --set env.name=lunar_lander_continuous --set run.name=a" + common),
      "observations of shape (3,)");
  expect_one_line_error(run_cli("offline --set offline.dataset=" + dir + "/absent.h5 --set run.name=b" + common),
                        "absent.h5");
  expect_one_line_error(run_cli("offline --set offline.dataset=" + write_small(dir + "/nan.h5", false, NAN) +
                                " --set run.name=c" + common),
                        "non-finite value (nan) at row 4");
  {
    ObservationSpec os;
    os.shape = {3};
    ActionSpec as;
    as.discrete = false;
    as.dim = 2;
    ExperienceWriter w(dir + "/empty.h5", os, as, false, {}, {}, false);
    w.close();
  }
  expect_one_line_error(run_cli("offline --set offline.dataset=" + dir + "/empty.h5 --set run.name=d" + common),
                        "no transitions");
  expect_one_line_error(run_cli("offline --set run.name=e" + common), "offline.dataset");
  for (const char* name : {"a", "b", "c", "d", "e"}) EXPECT_FALSE(fs::exists(dir + "/runs/" + name)) << name;

  // relabel onto an existing file without --force keeps it.
  std::ofstream(dir + "/keep.h5") << "mine";
  expect_one_line_error(run_cli("relabel " + small + " " + dir + "/keep.h5 --reward zero"), "exists");
  EXPECT_EQ(test::read_file(dir + "/keep.h5"), "mine");
  expect_one_line_error(run_cli("relabel " + small + " " + small + " --reward zero"), "overwrite the input");
  expect_one_line_error(run_cli("relabel " + small + " " + dir + "/x.h5 --reward inverted"), "inverted");
  EXPECT_FALSE(fs::exists(dir + "/x.h5"));
}

// A small maze dataset from the random policy, and an offline run of `algo` on it.
struct MazeOffline {
  std::string dir = test::make_temp_dir();
  std::string data = dir + "/maze.h5";
  MazeOffline() {
    const auto r = run_cli("collect --env maze --policy random --steps 3000 --out " + data +
                           " --set env.distribution=easy --set env.num_envs=8");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  std::string args(const std::string& algo, const std::string& name, int steps) const {
    return "offline --set offline.dataset=" + data + " --set offline.algo=" + algo +
           " --set offline.steps=" + std::to_string(steps) +
           " --set offline.log_every=20 --set offline.eval_every=40 --set offline.eval_episodes=4"
           " --set offline.eval_greedy=false --set agent.channels=4,8,8 --set agent.hidden=32"
           " --set offline.batch_size=32 --set run.checkpoint_every=1 --set run.name=" +
           name + " --out " + dir + "/runs";
  }
};

TEST(OfflineRun, MazePolicyTrainsAndWorksInEvalAndAnalyze) {
  const MazeOffline m;
  const auto r = run_cli(m.args("bc", "bc", 80));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = m.dir + "/runs/bc";
  const std::string metrics = test::read_file(run + "/metrics.csv");
  for (const char* column : {"global_step", "charts/episodic_return", "charts/cheese_rate", "charts/normalized_score"})
    EXPECT_NE(metrics.find(column), std::string::npos) << column;
  const nlohmann::json result = nlohmann::json::parse(test::read_file(run + "/result.json"));
  EXPECT_EQ(result["steps"], 80);
  EXPECT_EQ(result["evaluation"]["episodes"], 4);
  // The offline policy is an ordinary checkpoint: eval and the maze studies load it unchanged.
  const auto e = run_cli("eval " + run + " --episodes 8");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("\"cheese_rate\""), std::string::npos);
  const auto a = run_cli("analyze cheese-vector " + run + " --seeds 0:10 --out " + m.dir + "/analysis");
  EXPECT_EQ(a.exit_code, 0) << a.err;
}

TEST(OfflineRun, ResumesAfterKill9WithEveryRowOnce) {
  const MazeOffline m;
  const std::string args = m.args("iql", "iql", 400);
  const std::string ckpt = m.dir + "/runs/iql/checkpoints/update_0000003.pt";
  const auto killed = test::run_shell("( " + std::string(SHARDLAB_CLI) + " " + args + " & pid=$!; " +
                                      "for i in $(seq 900); do [ -e " + ckpt +
                                      " ] && break; sleep 0.1; done; "
                                      "sleep 0.2; kill -9 $pid; wait $pid; echo killed=$? )");
  ASSERT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  EXPECT_FALSE(fs::exists(m.dir + "/runs/iql/result.json"));
  const auto resumed = run_cli(args + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming"), std::string::npos);
  std::ifstream in(m.dir + "/runs/iql/metrics.csv");
  std::string line;
  std::getline(in, line);
  int64_t expected_step = 20, rows = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.substr(0, line.find(',')), std::to_string(expected_step)) << line;
    expected_step += 20;
    ++rows;
  }
  EXPECT_EQ(rows, 20);
  EXPECT_TRUE(fs::exists(m.dir + "/runs/iql/result.json"));
}

TEST(OfflineRun, D4rlFilesTrainWithoutConversion) {
  // D4RL's mujoco layout, written by h5py: float64 observations, (N, 1) rewards, bool flags, no
  // shardlab metadata: the run trains, says once that it cannot evaluate, and logs its losses.
  const std::string dir = test::make_temp_dir();
  const auto w = test::run_shell(
      "/usr/bin/python3 -c \"import h5py,numpy as np,sys;n=500;i=np.arange(n);f=h5py.File(sys.argv[1],'w');"
      "f['observations']=np.random.RandomState(0).randn(n,11);f['actions']=np.tanh(np.random.RandomState(1).randn(n,3))"
      ".astype(np.float32);f['rewards']=(i%7).reshape(n,1).astype(np.float32);f['terminals']=(i%100==99);"
      "f['timeouts']=np.zeros(n,bool)\" " +
      dir + "/hopper_like.h5");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  for (const char* algo : {"atac", "iql", "bc"}) {
    const auto r = run_cli("offline --set offline.dataset=" + dir + "/hopper_like.h5 --set offline.algo=" + algo +
                           " --set offline.steps=40 --set offline.log_every=20 --set agent.torso=mlp"
                           " --set agent.hidden=32 --set atac.hidden=32 --set iql.hidden=32 --set atac.warmup_steps=20"
                           " --set agent.policy_head=tanh_gaussian --set run.name=" +
                           std::string(algo) + " --out " + dir + "/runs");
    ASSERT_EQ(r.exit_code, 0) << algo << ": " << r.err;
    EXPECT_NE(r.err.find("records no shardlab environment; training without evaluation"), std::string::npos) << r.err;
    const nlohmann::json result = nlohmann::json::parse(test::read_file(dir + "/runs/" + algo + "/result.json"));
    EXPECT_TRUE(result["evaluation"].is_null()) << algo;
    EXPECT_NE(test::read_file(dir + "/runs/" + algo + "/metrics.csv").find("40,2,"), std::string::npos) << algo;
  }
}

TEST(OfflineRun, LanderPolicyRendersFromItsCheckpoint) {
  const std::string dir = test::make_temp_dir();
  ASSERT_EQ(
      run_cli("collect --env lunar_lander_continuous --policy heuristic --steps 2000 --set env.num_envs=4 --out " +
              dir + "/lander.h5")
          .exit_code,
      0);
  const auto r = run_cli("offline --set offline.dataset=" + dir + "/lander.h5 --set offline.algo=bc" +
                         " --set offline.steps=40 --set offline.log_every=20 --set offline.eval_episodes=2" +
                         " --set agent.torso=mlp --set agent.hidden=32 --set agent.policy_head=tanh_gaussian" +
                         " --set run.name=bc --out " + dir + "/runs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto frames = run_cli("render --run " + dir + "/runs/bc --greedy --every 100 --out " + dir + "/frames");
  ASSERT_EQ(frames.exit_code, 0) << frames.err;
  EXPECT_TRUE(fs::exists(dir + "/frames/frame_00000.png"));
  EXPECT_NE(frames.out.find("lunar_lander_continuous"), std::string::npos) << frames.out;
  EXPECT_NE(frames.out.find("(greedy)"), std::string::npos) << frames.out;
}

std::string tiny_grid(const std::string& dir);

TEST(OfflineData, BadDatasetAndGridRequestsGiveOneLine) {
  const std::string dir = test::make_temp_dir();
  expect_one_line_error(run_cli("dataset make --task hopper --quality medium --out " + dir + "/a.h5"), "--task hopper");
  expect_one_line_error(run_cli("dataset make --task maze --quality best --out " + dir + "/a.h5"), "--quality best");
  expect_one_line_error(run_cli("dataset make --task maze --quality medium"), "--out FILE or --out-dir DIR");
  std::ofstream(dir + "/kept.h5") << "mine";
  expect_one_line_error(run_cli("dataset make --task maze --quality random --out " + dir + "/kept.h5"), "exists");
  EXPECT_EQ(test::read_file(dir + "/kept.h5"), "mine");
  const std::string spec = tiny_grid(dir);
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.tasks=hopper"), "hopper");
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.rewards=true,inverted"), "inverted");
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.datasets=best"), "best");
  // Every algorithm and override is checked before an expert trains (hardening round two, case 10).
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.algos=iql,sac"), "'sac'");
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.overrides_lunar_lander_continuous=agent.nope=1"),
                        "agent.nope");
  expect_one_line_error(run_cli("ablate " + spec + " --set ablate.overrides_lunar_lander_continuous=agent.hidden"),
                        "expected KEY=VALUE");
  // The grid runner's flags and `ablate summarize`, refused before anything is written.
  expect_one_line_error(run_cli("ablate " + spec + " --emit pbs"), "--emit slurm");
  expect_one_line_error(run_cli("ablate " + spec + " --time 10"), "--time goes with --emit slurm");
  expect_one_line_error(run_cli("ablate " + spec + " --emit slurm --mem 4X"), "--mem '4X'");
  expect_one_line_error(run_cli("ablate summarize " + dir + "/nothing"), "not an ablation folder");
  expect_one_line_error(run_cli("ablate summarize"), "expected the grid folder");
  expect_one_line_error(run_cli("grid status " + dir), "not a grid folder");
  expect_one_line_error(
      run_cli("dataset make " + spec + " --task lunar_lander_continuous --quality random,superb " + "--out-dir " + dir),
      "--quality superb");
  std::ofstream(dir + "/lunar_lander_continuous-medium.h5") << "mine";
  expect_one_line_error(
      run_cli("dataset make " + spec + " --task lunar_lander_continuous --quality random,medium " + "--out-dir " + dir),
      "lunar_lander_continuous-medium.h5 exists");
  EXPECT_FALSE(fs::exists(dir + "/experts"));
  EXPECT_FALSE(fs::exists(dir + "/lunar_lander_continuous-random.h5"));
  expect_one_line_error(run_cli("render --run " + dir + "/nothing --out " + dir + "/frames"), "nothing");
  EXPECT_FALSE(fs::exists(dir + "/grid"));
  EXPECT_FALSE(fs::exists(dir + "/frames"));
}

// A tiny grid: one task, IQL with two reward labels and BC, two seeds; a tiny expert run.
std::string tiny_grid(const std::string& dir) {
  const std::string spec = dir + "/tiny.ini";
  std::ofstream(spec) << "[ablate]\nout = " << dir << "/grid\ntasks = lunar_lander_continuous\n"
                      << "datasets = medium-replay\nalgos = iql\nrewards = true,zero\nseeds = 0:2\n"
                      << "overrides_lunar_lander_continuous = agent.torso=mlp;agent.hidden=32\n"
                      << "[dataset]\nruns = " << dir << "/experts\nsize = 3000\nexpert_total_steps = 8192\n"
                      << "reference_episodes = 5\n[offline]\nsteps = 300\nlog_every = 50\neval_every = 150\n"
                      << "eval_episodes = 3\nbatch_size = 64\n[iql]\nhidden = 32\n";
  return spec;
}

TEST(OfflineAblation, KilledGridContinuesWithoutRerunningFinishedCells) {
  const std::string dir = test::make_temp_dir();
  const std::string spec = tiny_grid(dir);
  const std::string cells = dir + "/grid/runs/";
  // Kill the grid (and its cells) once the first cell has finished.
  const auto killed =
      test::run_shell("( setsid " + std::string(SHARDLAB_CLI) + " ablate " + spec +
                      " --jobs 1 & pid=$!; for i in $(seq 1200); do "
                      "ls " +
                      cells +
                      "*/result.json >/dev/null 2>&1 && break; sleep 0.1; done; kill -9 -$pid; wait $pid; "
                      "echo killed=$? )");
  ASSERT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  std::vector<std::string> finished;
  for (const auto& e : fs::directory_iterator(cells))
    if (fs::exists(e.path() / "result.json")) finished.push_back(e.path().string());
  ASSERT_FALSE(finished.empty());
  ASSERT_LT(finished.size(), 6u);
  std::map<std::string, fs::file_time_type> stamps;
  for (const auto& f : finished) stamps[f] = fs::last_write_time(f + "/result.json");

  const auto again = run_cli("ablate " + spec + " --jobs 2");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  // The dataset cell and the finished run cells: "K of 7 cells finished".
  EXPECT_NE(again.err.find(std::to_string(finished.size() + 1) + " of 7 cells finished"), std::string::npos)
      << again.err;
  for (const auto& [f, t] : stamps) EXPECT_EQ(fs::last_write_time(f + "/result.json"), t) << f;  // not rerun
  const auto csv = test::read_csv(dir + "/grid/cells.csv");
  ASSERT_EQ(csv.size(), 7u);  // a header and 2 seeds x (2 IQL rewards + BC)
  // Each cell carries the lander's outcome rates from its evaluation.
  const std::vector<std::string> header = csv[0];
  const auto landed = std::find(header.begin(), header.end(), "landed_rate");
  ASSERT_NE(landed, header.end()) << test::read_file(dir + "/grid/cells.csv");
  EXPECT_NE(std::find(header.begin(), header.end(), "crashed_rate"), header.end());
  for (size_t i = 1; i < csv.size(); ++i) {
    ASSERT_EQ(csv[i].size(), header.size());
    const double rate = std::stod(csv[i][static_cast<size_t>(landed - header.begin())]);
    EXPECT_TRUE(rate >= 0 && rate <= 1) << rate;
  }
  const std::string table = test::read_file(dir + "/grid/ablation.md");
  for (const char* column : {"behavior", "BC", "iql true", "iql zero", "lunar_lander_continuous-medium-replay"})
    EXPECT_NE(table.find(column), std::string::npos) << column << "\n" << table;
  EXPECT_NE(test::read_file(dir + "/grid/ablation.svg").find("<svg"), std::string::npos);
  // Per task, dataset and learner, each number's mean and interval over the seeds.
  const auto summary = test::read_csv(dir + "/grid/ablation.csv");
  ASSERT_EQ(summary.size(), 5u);  // a header, the behaviour policy, BC, IQL true and zero
  EXPECT_EQ(summary[1][0] + " " + summary[1][1] + " " + summary[1][2],
            "lunar_lander_continuous medium-replay behavior");
  EXPECT_EQ(summary[3][2] + " " + summary[3][3], "iql true 0 1");  // its seeds
  // A third call finds everything done and only rewrites the results.
  const auto done = run_cli("ablate " + spec);
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find("7 of 7 cells finished; processes to run: 1"), std::string::npos) << done.err;
}

}  // namespace
}  // namespace shardlab
