// How far an offline actor moves from its warm start (offline/policy_distance.h): the exact KL of
// each policy head against hand computations, zero for identical policies, the warm-start copy
// taken at the warm start's last update and kept through a checkpoint, and an ATAC run that
// reports the distance in metrics.csv and result.json, the same after a resume; and which thread
// pool an offline run gives run.threads.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agents/checkpoint.h"
#include "core/error.h"
#include "core/spec.h"
#include "experiments/schema.h"
#include "offline/offline_run.h"
#include "offline/policy_distance.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

ActorCritic make_policy(bool discrete, const std::string& head, uint64_t seed) {
  NetworkConfig config;
  config.torso = "mlp";
  config.hidden = 16;
  config.policy_head = head;
  ObservationSpec obs;
  obs.shape = {4};
  ActionSpec act;
  act.discrete = discrete;
  act.num_actions = 5;
  act.dim = 2;
  act.low = -1;
  act.high = 1;
  at::Generator init = at::detail::createCPUGenerator(seed);
  return ActorCritic(config, obs, act, init);
}

// Moves every parameter of `net` by noise of standard deviation `scale`.
void nudge(ActorCriticImpl& net, double scale) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(7);
  for (auto& p : net.parameters()) p.add_(at::randn(p.sizes(), gen, p.options()) * scale);
}

TEST(PolicyDistance, IdenticalPoliciesAreAtZeroAndDifferentOnesAreNot) {
  const at::Tensor states = torch::randn({300, 4});
  for (const auto& [discrete, head] :
       std::vector<std::pair<bool, std::string>>{{true, "gaussian"}, {false, "gaussian"}, {false, "tanh_gaussian"}}) {
    ActorCritic a = make_policy(discrete, head, 1), same = make_policy(discrete, head, 1);
    ActorCritic other = make_policy(discrete, head, 2);
    nudge(*other, 0.3);
    const PolicyDistance zero = policy_distance(*a, *same, states, 64);
    EXPECT_NEAR(zero.kl, 0.0, 1e-6) << head;
    EXPECT_NEAR(zero.action_distance, 0.0, 1e-6) << head;
    const PolicyDistance apart = policy_distance(*a, *other, states, 64);
    EXPECT_GT(apart.kl, 1e-4) << head;
    EXPECT_GT(apart.action_distance, 1e-4) << head;
    if (discrete) {
      EXPECT_LE(apart.action_distance, 1.0);
    }
  }
}

TEST(PolicyDistance, KlMatchesHandComputations) {
  // tanh_gaussian: means then log-stds. Dimension 1: KL(N(1, 0.5^2) || N(0, 1)) =
  // log 2 + (0.25 + 1) / 2 - 1/2; dimension 2: KL(N(0, 1) || N(0, 2^2)) = log 2 + 1/8 - 1/2.
  ActorCritic tanh_head = make_policy(false, "tanh_gaussian", 0);
  const at::Tensor p = torch::tensor({{1.0f, 0.0f, std::log(0.5f), 0.0f}});
  const at::Tensor q = torch::tensor({{0.0f, 0.0f, 0.0f, std::log(2.0f)}});
  const double expected = (std::log(2.0) + 0.625 - 0.5) + (std::log(2.0) + 0.125 - 0.5);
  EXPECT_NEAR(policy_kl(*tanh_head, p, {}, q, {}).item<double>(), expected, 1e-6);
  EXPECT_NEAR(policy_kl(*tanh_head, p, {}, p, {}).item<double>(), 0.0, 1e-7);

  // gaussian: the same Gaussians with the log-stds as the head's state-independent parameter.
  ActorCritic gaussian_head = make_policy(false, "gaussian", 0);
  EXPECT_NEAR(policy_kl(*gaussian_head, p.narrow(1, 0, 2), p.narrow(1, 2, 2).squeeze(0), q.narrow(1, 0, 2),
                        q.narrow(1, 2, 2).squeeze(0))
                  .item<double>(),
              expected, 1e-6);

  // categorical: KL((1/2, 1/2) || (1/4, 3/4)) = 1/2 log 2 + 1/2 log(2/3); logits up to a constant.
  ActorCritic categorical = make_policy(true, "gaussian", 0);
  const at::Tensor lp = torch::tensor({{0.0f, 0.0f, -100.0f, -100.0f, -100.0f}});
  const at::Tensor lq = torch::tensor({{3.0f, 3.0f + std::log(3.0f), -100.0f, -100.0f, -100.0f}});
  EXPECT_NEAR(policy_kl(*categorical, lp, {}, lq, {}).item<double>(), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3),
              1e-5);
}

TEST(PolicyDistance, WarmStartCopyIsTakenOnceAndSurvivesACheckpoint) {
  const at::Tensor states = torch::randn({200, 4});
  ActorCritic net = make_policy(false, "tanh_gaussian", 3);
  WarmStartPolicy warm(net, 5);
  warm.observe(4);
  EXPECT_FALSE(warm.taken());
  EXPECT_THROW(warm.distance_of_current(states), Error);
  warm.observe(5);
  ASSERT_TRUE(warm.taken());
  EXPECT_NEAR(warm.distance_of_current(states).kl, 0.0, 1e-7);
  nudge(*net, 0.05);
  warm.observe(5);  // taken already: keeps the warm-start weights
  const PolicyDistance moved = warm.distance_of_current(states);
  EXPECT_GT(moved.kl, 1e-3);

  const std::string path = test::make_temp_dir() + "/c.pt";
  Checkpoint saved;
  saved.add("model", *net);
  warm.add_parts(saved);
  saved.save(path, "");
  ActorCritic resumed_net = make_policy(false, "tanh_gaussian", 9);
  WarmStartPolicy resumed(resumed_net, 5);
  Checkpoint loaded;
  loaded.add("model", *resumed_net);
  resumed.add_parts(loaded);
  loaded.load(path);
  ASSERT_TRUE(resumed.taken());
  const PolicyDistance again = resumed.distance_of_current(states);
  EXPECT_DOUBLE_EQ(again.kl, moved.kl);
  EXPECT_DOUBLE_EQ(again.action_distance, moved.action_distance);
}

// run.threads goes to torch's pool for the IMPALA torso's convolutions and to OpenBLAS for an
// MLP's matrix products; the other pool keeps one thread.
TEST(OfflineRun, ThreadsGoToThePoolThatDoesTheNetworksProducts) {
  Spec spec(shardlab_schema());
  const OfflineThreads impala = offline_threads(spec, 2);
  EXPECT_EQ(impala.torch, 2);
  EXPECT_EQ(impala.blas, 1);
  spec.set("agent.torso", "mlp", "test");
  const OfflineThreads mlp = offline_threads(spec, 2);
  EXPECT_EQ(mlp.torch, 1);
  EXPECT_EQ(mlp.blas, 2);
}

// An ATAC run on a random-policy maze dataset whose warm start ends mid-row (update 30 of rows of
// 20): the distance is logged at each evaluation after it and written to result.json, and a run
// resumed from a checkpoint after the warm start reports the same numbers. BC reports none.
TEST(OfflineRun, AtacReportsTheActorsDistanceFromItsWarmStartAcrossAResume) {
  const std::string dir = test::make_temp_dir(), data = dir + "/maze.h5";
  ASSERT_EQ(run_cli("collect --env maze --policy random --steps 2000 --out " + data +
                    " --set env.distribution=easy --set env.num_envs=8")
                .exit_code,
            0);
  auto args = [&](const std::string& algo, const std::string& name) {
    return "offline --set offline.dataset=" + data + " --set offline.algo=" + algo +
           " --set offline.steps=80 --set offline.log_every=20 --set offline.eval_every=40"
           " --set offline.eval_episodes=0 --set atac.warmup_steps=30 --set atac.actor_lr=1e-3"
           " --set agent.channels=4,8,8 --set agent.hidden=32 --set offline.batch_size=16"
           " --set run.checkpoint_every=1 --set run.name=" +
           name + " --out " + dir + "/runs";
  };
  const auto r = run_cli(args("atac", "atac"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = dir + "/runs/atac";
  const nlohmann::json first = nlohmann::json::parse(test::read_file(run + "/result.json"));
  ASSERT_TRUE(first.contains("actor_kl_from_warm_start")) << first.dump();
  EXPECT_GT(first["actor_kl_from_warm_start"].get<double>(), 0.0);
  EXPECT_GE(first["actor_action_distance_from_warm_start"].get<double>(), 0.0);
  EXPECT_EQ(first["warm_start_steps"], 30);
  const auto rows = test::read_csv(run + "/metrics.csv");
  const auto& header = rows.front();
  const size_t kl = std::find(header.begin(), header.end(), "charts/actor_kl_from_warm_start") - header.begin();
  ASSERT_LT(kl, header.size());
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_FALSE(rows[2][kl].empty() || rows[4][kl].empty());  // updates 40 and 80
  EXPECT_TRUE(rows[1][kl].empty() && rows[3][kl].empty());   // not evaluation rows

  // A kill after update 40's checkpoint: the newer ones and result.json are gone.
  for (const char* name : {"update_0000003.pt", "update_0000004.pt"}) fs::remove(run + "/checkpoints/" + name);
  fs::remove(run + "/result.json");
  const auto resumed = run_cli(args("atac", "atac") + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const nlohmann::json second = nlohmann::json::parse(test::read_file(run + "/result.json"));
  EXPECT_DOUBLE_EQ(second["actor_kl_from_warm_start"].get<double>(), first["actor_kl_from_warm_start"].get<double>());
  EXPECT_DOUBLE_EQ(second["actor_action_distance_from_warm_start"].get<double>(),
                   first["actor_action_distance_from_warm_start"].get<double>());

  ASSERT_EQ(run_cli(args("bc", "bc")).exit_code, 0);
  const nlohmann::json bc = nlohmann::json::parse(test::read_file(dir + "/runs/bc/result.json"));
  EXPECT_FALSE(bc.contains("actor_kl_from_warm_start"));
  EXPECT_EQ(test::read_file(dir + "/runs/bc/metrics.csv").find("warm_start"), std::string::npos);
}

}  // namespace
}  // namespace shardlab
