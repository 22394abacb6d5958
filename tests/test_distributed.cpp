// Data-parallel training over c10d/Gloo (agents/collective.h): the collective operations on a
// real two-rank Gloo group (two threads of this process over loopback), the learners' updates on
// two ranks against one rank on the whole batch, and the launcher end to end (--nproc 2: a lost
// rank, resuming with another rank count).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agents/collective.h"
#include "agents/normalization.h"
#include "agents/ppo.h"
#include "agents/reinforce.h"
#include "core/error.h"
#include "core/spec.h"
#include "experiments/schema.h"
#include "offline/learner.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

// Runs `body(rank's collective)` on the two ranks of one Gloo group, each in its own thread.
// Returns each rank's exception message ("" when it returned normally).
std::vector<std::string> on_two_ranks(const std::function<void(const Collective&)>& body) {
  const int port = free_loopback_port();
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank)
    threads.emplace_back([&, rank] {
      try {
        WorldConfig world;
        world.world_size = 2;
        world.rank = rank;
        world.master_port = port;
        world.timeout_s = 60;
        body(Collective::join(world));
      } catch (const std::exception& e) {
        errors[rank] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

ActorCritic small_net() {
  NetworkConfig config;
  config.channels = {4, 8, 8};
  config.hidden = 32;
  ObservationSpec obs;
  obs.shape = {3, 15, 15};
  ActionSpec act;
  act.num_actions = 5;
  at::Generator init = at::detail::createCPUGenerator(11);
  return ActorCritic(config, obs, act, init);
}

// A rollout of T steps in N environments with random observations, actions and rewards; some
// episodes end (so REINFORCE has returns) and some are cut by the time limit.
Rollout random_rollout(ActorCriticImpl& net, int64_t T, int64_t N, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard no_grad;
  Rollout r;
  r.obs = torch::rand({T, N, 3, 15, 15}, gen);
  const PolicyOutput out = net.forward(r.obs.flatten(0, 1));
  const ActionSample sample = sample_action(net, out.logits_or_mean, gen);
  r.actions = sample.action.reshape({T, N});
  r.log_probs = sample.log_prob.reshape({T, N});
  r.values = out.value.reshape({T, N});
  r.rewards = torch::rand({T, N}, gen);
  r.terminated = (torch::rand({T, N}, gen) < 0.2).to(torch::kFloat32);
  r.truncated = (torch::rand({T, N}, gen) < 0.05).to(torch::kFloat32) * (1 - r.terminated);
  r.final_values = torch::rand({T, N}, gen) * r.truncated;
  r.next_value = torch::rand({N}, gen);
  return r;
}

// Environments [begin, end) of a rollout: what one rank of a data-parallel run collects.
Rollout columns(const Rollout& r, int64_t begin, int64_t end) {
  Rollout s;
  s.obs = r.obs.slice(1, begin, end).contiguous();
  s.actions = r.actions.slice(1, begin, end).contiguous();
  s.log_probs = r.log_probs.slice(1, begin, end).contiguous();
  s.values = r.values.slice(1, begin, end).contiguous();
  s.rewards = r.rewards.slice(1, begin, end).contiguous();
  s.terminated = r.terminated.slice(1, begin, end).contiguous();
  s.truncated = r.truncated.slice(1, begin, end).contiguous();
  s.final_values = r.final_values.slice(1, begin, end).contiguous();
  s.next_value = r.next_value.slice(0, begin, end).contiguous();
  return s;
}

at::Tensor flat_parameters(ActorCriticImpl& net) {
  std::vector<at::Tensor> pieces;
  for (const auto& p : net.parameters()) pieces.push_back(p.detach().reshape(-1));
  return torch::cat(pieces);
}

at::Tensor flat_gradients(ActorCriticImpl& net) {
  std::vector<at::Tensor> pieces;
  for (const auto& p : net.parameters()) pieces.push_back(p.grad().reshape(-1).clone());
  return torch::cat(pieces);
}

// A loss that is a mean over rows, like every learner's.
at::Tensor mean_loss(ActorCriticImpl& net, const at::Tensor& obs, const at::Tensor& actions) {
  const PolicyOutput out = net.forward(obs);
  return -(torch::log_softmax(out.logits_or_mean, 1).gather(1, actions.unsqueeze(1)).squeeze(1)).mean() +
         out.value.pow(2).mean();
}

TEST(Collective, AveragedGradientOfTwoHalvesEqualsTheWholeBatchGradient) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor obs = torch::rand({32, 3, 15, 15}, gen);
  const at::Tensor actions = torch::randint(0, 5, {32}, gen, torch::kInt64);
  ActorCritic whole = small_net();
  mean_loss(*whole, obs, actions).backward();
  const at::Tensor expected = flat_gradients(*whole);

  std::vector<at::Tensor> averaged(2);
  const auto errors = on_two_ranks([&](const Collective& ranks) {
    ActorCritic net = small_net();
    const int64_t r = ranks.rank();
    mean_loss(*net, obs.slice(0, 16 * r, 16 * r + 16), actions.slice(0, 16 * r, 16 * r + 16)).backward();
    ASSERT_TRUE(ranks.average_gradients(net->parameters(), true));
    averaged[r] = flat_gradients(*net);
  });
  ASSERT_EQ(errors, std::vector<std::string>(2, ""));
  for (int r = 0; r < 2; ++r) {
    EXPECT_LT((averaged[r] - expected).abs().max().item<double>(), 1e-5 * (1 + expected.abs().max().item<double>()));
  }
  // Not a vacuous match: one half's own gradient differs from the whole batch's.
  ActorCritic half = small_net();
  mean_loss(*half, obs.slice(0, 0, 16), actions.slice(0, 0, 16)).backward();
  EXPECT_GT((flat_gradients(*half) - expected).abs().max().item<double>(), 1e-3);
}

// One update of `algo` on two ranks (each with half the environments) leaves the same
// parameters as one rank updating on the whole rollout.
void expect_two_rank_update_matches_one(const std::string& algo) {
  TrainConfig train;
  PpoConfig ppo;
  ppo.num_minibatches = 1;  // each rank's minibatch is its whole half: together, the whole batch
  ppo.update_epochs = 2;
  ppo.norm_adv = false;  // advantages are normalised per rank's minibatch (ppo.h)
  ActorCritic probe = small_net();
  const Rollout rollout = random_rollout(*probe, 8, 6, 21);
  auto update = [&](ActorCriticImpl& net, const Rollout& r, const Collective& ranks) {
    torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(1e-3).eps(1e-5));
    at::Generator gen = at::detail::createCPUGenerator(1);
    if (algo == "ppo")
      ppo_update(net, adam, r, train, ppo, gen, torch::kCPU, ranks);
    else
      reinforce_update(net, adam, r, train, ReinforceConfig(), torch::kCPU, ranks);
  };
  ActorCritic whole = small_net();
  const at::Tensor before = flat_parameters(*whole);
  update(*whole, rollout, Collective());
  const at::Tensor expected = flat_parameters(*whole);
  ASSERT_GT((expected - before).abs().max().item<double>(), 1e-4) << algo << ": the update changed nothing";

  std::vector<at::Tensor> after(2);
  const auto errors = on_two_ranks([&](const Collective& ranks) {
    ActorCritic net = small_net();
    const int64_t r = ranks.rank();
    update(*net, columns(rollout, 3 * r, 3 * r + 3), ranks);
    after[r] = flat_parameters(*net);
  });
  ASSERT_EQ(errors, std::vector<std::string>(2, "")) << algo;
  for (int r = 0; r < 2; ++r)
    EXPECT_LT((after[r] - expected).abs().max().item<double>(), 1e-5) << algo << " rank " << r;
}

TEST(Collective, PpoUpdateOnTwoRanksEqualsOneRankOnTheWholeRollout) { expect_two_rank_update_matches_one("ppo"); }

TEST(Collective, ReinforceUpdateOnTwoRanksEqualsOneRankOnTheWholeRollout) {
  expect_two_rank_update_matches_one("reinforce");
}

TEST(Collective, NonFiniteLossOnOneRankStopsEveryRankUnchanged) {
  TrainConfig train;
  PpoConfig ppo;
  ppo.num_minibatches = 1;  // the first minibatch already holds the NaN
  std::vector<double> changed(2, -1);
  const auto errors = on_two_ranks([&](const Collective& ranks) {
    ActorCritic net = small_net();
    Rollout r = random_rollout(*net, 8, 3, 30 + ranks.rank());
    if (ranks.rank() == 1) r.rewards[2][1] = std::nan("");
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
    at::Generator gen = at::detail::createCPUGenerator(1);
    const at::Tensor before = flat_parameters(*net);
    try {
      ppo_update(*net, adam, r, train, ppo, gen, torch::kCPU, ranks);
    } catch (...) {
      changed[ranks.rank()] = (flat_parameters(*net) - before).abs().max().item<double>();
      throw;
    }
  });
  EXPECT_NE(errors[1].find("non-finite loss ("), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("policy_loss="), std::string::npos) << errors[1];
  EXPECT_NE(errors[1].find("nan"), std::string::npos) << errors[1];
  EXPECT_NE(errors[0].find("non-finite loss on another rank"), std::string::npos) << errors[0];
  EXPECT_EQ(changed, std::vector<double>({0.0, 0.0}));
}

// Each rank's statistics see its own rows during a rollout; synchronize() merges every rank's.
TEST(Collective, NormalisersMergeEveryRanksRows) {
  at::Generator gen = at::detail::createCPUGenerator(8);
  const at::Tensor data = torch::randn({10, 3}, gen) * 4 + 1;
  RunningMeanStd whole(3);
  whole.update(data.data_ptr<float>(), 6, Collective());
  whole.update(data.data_ptr<float>() + 18, 4, Collective());
  std::vector<RunningMeanStd> merged(2, RunningMeanStd(3));
  const auto errors = on_two_ranks([&](const Collective& ranks) {
    // Rank 0 holds rows 0-2 and 6-7, rank 1 rows 3-5 and 8-9: two steps of both ranks' rows.
    const int64_t r = ranks.rank();
    merged[r].update(data.data_ptr<float>() + 9 * r, 3, ranks);
    merged[r].update(data.data_ptr<float>() + 18 + 6 * r, 2, ranks);
    merged[r].synchronize(ranks);
  });
  ASSERT_EQ(errors, std::vector<std::string>(2, ""));
  for (int r = 0; r < 2; ++r) {
    EXPECT_DOUBLE_EQ(merged[r].count, whole.count);
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(merged[r].mean[j], whole.mean[j], 1e-9);
      EXPECT_NEAR(merged[r].var[j], whole.var[j], 1e-9);
    }
  }
}

TEST(Collective, BroadcastAndSumsReachEveryRank) {
  std::vector<std::string> got(2);
  std::vector<std::vector<double>> sums(2);
  const auto errors = on_two_ranks([&](const Collective& ranks) {
    std::string bytes = ranks.leader() ? std::string("state\0of rank 0", 15) : "ignored";
    ranks.broadcast(bytes);
    got[ranks.rank()] = bytes;
    std::vector<double> v = {1.0 + ranks.rank(), 10.0};
    ranks.sum(v);
    sums[ranks.rank()] = v;
  });
  ASSERT_EQ(errors, std::vector<std::string>(2, ""));
  EXPECT_EQ(got[0], std::string("state\0of rank 0", 15));
  EXPECT_EQ(got[1], got[0]);
  EXPECT_EQ(sums[1], std::vector<double>({3.0, 20.0}));
}

// One gradient step of an offline learner on two ranks, each with half of a batch, against one
// rank on the whole batch. BC's likelihood and IQL's losses are means over the batch, so the steps
// match; ATAC's critic weights its terms by batch statistics (and BC's default objective, ATAC's warm
// start, samples one action per row), so for those only the ranks' agreement is checked.
TEST(Collective, OfflineLearnersStepOnTwoRanksLikeOneRankOnTheWholeBatch) {
  for (const std::string variant : {"bc", "bc.warm_start", "iql", "atac"}) {
    const std::string algo = variant.substr(0, variant.find('.'));
    const std::string objective = variant == "bc" ? "likelihood" : "warm_start";
    const Spec spec = Spec::load(shardlab_schema(), "",
                                 {"offline.algo=" + algo, "agent.torso=mlp", "agent.hidden=16", "iql.hidden=16",
                                  "atac.hidden=16", "agent.policy_head=tanh_gaussian", "bc.objective=" + objective});
    ObservationSpec obs;
    obs.shape = {4};
    ActionSpec act;
    act.discrete = algo == "atac";  // discrete ATAC takes exact expectations: no sampled actions
    act.num_actions = 3;
    act.dim = 2;
    at::Generator data_gen = at::detail::createCPUGenerator(2);
    Transitions batch;
    batch.observations = torch::rand({16, 4}, data_gen);
    batch.next_observations = torch::rand({16, 4}, data_gen);
    batch.actions =
        act.discrete ? torch::randint(3, {16}, data_gen, torch::kInt64) : torch::rand({16, 2}, data_gen) * 1.8 - 0.9;
    batch.rewards = torch::rand({16}, data_gen);
    batch.terminals = (torch::rand({16}, data_gen) < 0.2).to(torch::kFloat32);
    auto half = [&](int64_t r) {
      Transitions b;
      b.observations = batch.observations.slice(0, 8 * r, 8 * r + 8);
      b.next_observations = batch.next_observations.slice(0, 8 * r, 8 * r + 8);
      b.actions = batch.actions.slice(0, 8 * r, 8 * r + 8);
      b.rewards = batch.rewards.slice(0, 8 * r, 8 * r + 8);
      b.terminals = batch.terminals.slice(0, 8 * r, 8 * r + 8);
      return b;
    };
    auto step = [&](const Transitions& b, const Collective& ranks) {
      at::Generator init = at::detail::createCPUGenerator(7);
      LearnerContext context{spec, obs, act, torch::kCPU, init, 100};
      context.reward_min = 0;
      context.reward_max = 1;
      context.ranks = ranks;
      auto learner = make_offline_learner(context);
      at::Generator gen = at::detail::createCPUGenerator(3);
      for (int64_t i = 1; i <= 3; ++i) learner->update(b, i, gen);
      return flat_parameters(*learner->policy());
    };
    const at::Tensor whole = step(batch, Collective());
    std::vector<at::Tensor> after(2);
    const auto errors =
        on_two_ranks([&](const Collective& ranks) { after[ranks.rank()] = step(half(ranks.rank()), ranks); });
    ASSERT_EQ(errors, std::vector<std::string>(2, "")) << variant;
    EXPECT_LT((after[0] - after[1]).abs().max().item<double>(), 1e-6) << variant << ": the ranks drifted apart";
    if (variant == "bc" || variant == "iql") {
      EXPECT_LT((after[0] - whole).abs().max().item<double>(), 1e-5) << variant;
    }
  }
}

// Sets environment variables for one test and restores them after.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> vars) {
    for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_NTASKS", "SLURM_PROCID",
                             "SLURM_JOB_ID", "SLURM_LAUNCH_NODE_IPADDR", "SLURM_STEP_ID"}) {
      const char* old = std::getenv(name);
      if (old) saved_[name] = old;
      ::unsetenv(name);
    }
    for (const auto& [k, v] : vars) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* name : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_NTASKS", "SLURM_PROCID",
                             "SLURM_JOB_ID", "SLURM_LAUNCH_NODE_IPADDR", "SLURM_STEP_ID"})
      ::unsetenv(name);
    for (const auto& [k, v] : saved_) ::setenv(k.c_str(), v.c_str(), 1);
  }

 private:
  std::map<std::string, std::string> saved_;
};

TEST(Collective, WorldFromTorchrunAndSlurmVariables) {
  {
    ScopedEnv env({});
    EXPECT_EQ(WorldConfig::from_environment().world_size, 1);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "29500"}});
    const WorldConfig w = WorldConfig::from_environment();
    EXPECT_EQ(w.world_size, 4);
    EXPECT_EQ(w.rank, 3);
    EXPECT_EQ(w.master_addr, "10.1.2.3");
    EXPECT_EQ(w.master_port, 29500);
  }
  {
    // A batch script's or salloc shell's own process (no srun step) is not a rank.
    ScopedEnv env({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "123457"}});
    EXPECT_EQ(WorldConfig::from_environment().world_size, 1);
  }
  {
    ScopedEnv env({{"SLURM_NTASKS", "2"},
                   {"SLURM_PROCID", "1"},
                   {"SLURM_JOB_ID", "123457"},
                   {"SLURM_STEP_ID", "0"},
                   {"SLURM_LAUNCH_NODE_IPADDR", "192.0.2.7"}});
    const WorldConfig w = WorldConfig::from_environment();
    EXPECT_EQ(w.world_size, 2);
    EXPECT_EQ(w.rank, 1);
    EXPECT_EQ(w.master_addr, "192.0.2.7");
    EXPECT_EQ(w.master_port, 20000 + 123457 % 20000);
  }
  for (const auto& bad : std::vector<std::map<std::string, std::string>>{
           {{"WORLD_SIZE", "two"}},
           {{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}},
           {{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "29500"}},
           {{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}}) {
    ScopedEnv env(bad);
    EXPECT_THROW(WorldConfig::from_environment(), InputError);
  }
}

// --- The launcher, end to end (long) ---

std::string smoke_flags(const std::string& out) {
  return SHARDLAB_SOURCE_DIR
         "/experiments/ppo_maze_smoke.ini --set train.total_steps=8192 --set run.checkpoint_every=1 "
         "--set run.keep_checkpoints=100 --set run.name=dp --out " +
         out;
}

// Starts `train ARGS` in the background, waits for checkpoint `update`, SIGKILLs the process
// whose RANK is `rank` (a child of the launcher, or the trainer itself when rank < 0), and
// returns the shell's report: "exit=N ms=M" (M: how long the launcher took to stop after the kill).
test::CommandResult kill_during_training(const std::string& args, const std::string& run, int update, int rank) {
  char checkpoint[64];
  std::snprintf(checkpoint, sizeof checkpoint, "/checkpoints/update_%07d.pt", update);
  std::ostringstream script;
  script << SHARDLAB_CLI << " train " << args << " 2>" << run << ".err & L=$!\n"
         << "for i in $(seq 1200); do [ -e " << run << checkpoint << " ] && break; sleep 0.1; done\n";
  if (rank < 0)
    script << "kill -9 $L\n";
  else
    script << "for c in $(cat /proc/$L/task/*/children); do tr '\\0' '\\n' < /proc/$c/environ | grep -qx RANK=" << rank
           << " && kill -9 $c; done\n";
  script << "s=$(date +%s%N); wait $L; e=$?; echo \"exit=$e ms=$(( ($(date +%s%N) - s) / 1000000 ))\"\n";
  return test::run_shell("{\n" + script.str() + "}");
}

int metrics_rows(const std::string& run, std::vector<int>& updates) {
  std::istringstream lines(test::read_file(run + "/metrics.csv"));
  std::string line;
  std::getline(lines, line);
  updates.clear();
  while (std::getline(lines, line)) updates.push_back(std::stoi(line.substr(line.find(',') + 1)));
  return static_cast<int>(updates.size());
}

TEST(DataParallelRun, TrainsSurvivesALostRankAndResumesWithAnyRankCount) {
  const std::string out = test::make_temp_dir();
  const std::string run = out + "/dp";
  // Two ranks; rank 1 is killed after checkpoint 2: the launcher stops rank 0 and names rank 1.
  const auto lost = kill_during_training(smoke_flags(out) + " --nproc 2", run, 2, 1);
  const std::string err = test::read_file(run + ".err");
  ASSERT_NE(lost.out.find("exit=1 "), std::string::npos) << lost.out << err;
  const double stop_ms = std::stod(lost.out.substr(lost.out.find("ms=") + 3));
  EXPECT_LT(stop_ms, 30000.0) << err;
  EXPECT_NE(err.find("data-parallel run stopped: rank 1 was killed by signal 9"), std::string::npos) << err;
  EXPECT_NE(test::read_file(run + "/run.json").find("\"world_size\": 2"), std::string::npos);

  // One rank resumes the two ranks' checkpoint; killed again after checkpoint 4.
  const auto single = kill_during_training(smoke_flags(out) + " --resume", run, 4, -1);
  ASSERT_NE(single.out.find("exit=137"), std::string::npos) << single.out << test::read_file(run + ".err");

  // Two ranks finish it: every update has exactly one metrics row, in order.
  const auto finish = test::run_cli("train " + smoke_flags(out) + " --resume --nproc 2");
  ASSERT_EQ(finish.exit_code, 0) << finish.err;
  std::vector<int> updates;
  ASSERT_EQ(metrics_rows(run, updates), 8) << test::read_file(run + "/metrics.csv");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(updates[i], i + 1);
  const std::string history = test::read_file(run + "/run.json");
  EXPECT_NE(history.find("\"world_size\": 2"), std::string::npos);
  const auto eval = test::run_cli("eval " + run + " --episodes 8");
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

// Ranks started by another launcher (srun, torchrun: no --nproc parent to stop them): when rank 1
// is killed, rank 0 fails its next collective operation at once and names rank 1.
TEST(DataParallelRun, ARankWhosePeerIsKilledStopsAtOnceNamingIt) {
  const std::string out = test::make_temp_dir();
  const std::string run = out + "/dp";
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(free_loopback_port());
  std::ostringstream script;
  script << "{\n"
         << env << " RANK=0 " << SHARDLAB_CLI << " train " << smoke_flags(out) << " 2>" << out << "/r0.err & P0=$!\n"
         << env << " RANK=1 " << SHARDLAB_CLI << " train " << smoke_flags(out) << " 2>/dev/null & P1=$!\n"
         << "for i in $(seq 1200); do [ -e " << run << "/checkpoints/update_0000002.pt ] && break; sleep 0.1; done\n"
         << "kill -9 $P1; s=$(date +%s%N); wait $P0; e=$?; echo \"exit=$e ms=$(( ($(date +%s%N) - s) / 1000000 ))\"\n}";
  const auto r = test::run_shell(script.str());
  const std::string err = test::read_file(out + "/r0.err");
  ASSERT_NE(r.out.find("exit=1 "), std::string::npos) << r.out << err;
  EXPECT_LT(std::stod(r.out.substr(r.out.find("ms=") + 3)), 30000.0) << err;
  EXPECT_NE(err.find("shardlab: error: rank 0: "), std::string::npos) << err;
  EXPECT_NE(err.find("(rank 1 stopped or is unreachable)"), std::string::npos) << err;
}

TEST(DataParallelRun, OfflineRunOnTwoRanksTrainsEvaluatesAndWritesOnce) {
  const std::string dir = test::make_temp_dir();
  ASSERT_EQ(test::run_cli("collect --env maze --policy random --steps 2000 --out " + dir +
                          "/maze.h5 --set env.distribution=easy --set env.num_envs=8")
                .exit_code,
            0);
  const auto r = test::run_cli("offline --set offline.dataset=" + dir +
                               "/maze.h5 --set offline.algo=iql --set offline.steps=60 --set offline.log_every=20"
                               " --set offline.eval_every=60 --set offline.eval_episodes=4 --set agent.channels=4,8,8"
                               " --set agent.hidden=32 --set offline.batch_size=32 --set run.name=iql --out " +
                               dir + "/runs --nproc 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one rank reports the run folder:\n" << r.out;
  std::vector<int> updates;
  EXPECT_EQ(metrics_rows(dir + "/runs/iql", updates), 3);
  const nlohmann::json result = nlohmann::json::parse(test::read_file(dir + "/runs/iql/result.json"));
  EXPECT_EQ(result["steps"], 60);
  EXPECT_EQ(result["evaluation"]["episodes"], 4);
  EXPECT_NE(test::read_file(dir + "/runs/iql/run.json").find("\"world_size\": 2"), std::string::npos);
}

TEST(DataParallelRun, BadRequestsAreOneLineAndStartNothing) {
  const std::string out = test::make_temp_dir();
  for (const std::string& flags :
       {std::string(" --nproc 3"), std::string(" --nproc 0"), std::string(" --world-size 2 --rank 2 --master h:1"),
        std::string(" --world-size 2 --rank 0 --master nohostport"), std::string(" --world-size 2 --rank 0"),
        std::string(" --nproc 2 --world-size 2 --rank 0 --master h:1"), std::string(" --timeout 0")}) {
    const auto r = test::run_cli("train " + smoke_flags(out) + flags);
    EXPECT_EQ(r.exit_code, 2) << flags << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << flags << "\n" << r.err;
    EXPECT_FALSE(std::filesystem::exists(out + "/dp")) << flags;
  }
}

}  // namespace
}  // namespace shardlab
