// What every offline learner (bc, iql, atac) shares: the metric columns, NaN detection and exact
// checkpoint resumption; and the tanh-Gaussian policy head, saved policies included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "core/error.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "experiments/schema.h"
#include "offline/learner.h"
#include "tests/offline_learner_helpers.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using test::continuous;
using test::discrete;
using test::image_obs;
using test::kSmallContinuous;
using test::kSmallDiscrete;
using test::make_spec;
using test::random_batch;
using test::vector_obs;

// ---------------------------------------------------------------------------------------------
// Every learner: metric columns, NaN detection, exact resumption from a checkpoint.

struct LearnerCase {
  std::string algo;
  bool is_discrete;
};

std::unique_ptr<Learner> build(const LearnerCase& c, const Spec& spec, at::Generator& init) {
  const ObservationSpec obs = c.is_discrete ? image_obs() : vector_obs(3);
  const ActionSpec act = c.is_discrete ? discrete(4) : continuous(2);
  return make_offline_learner({spec, obs, act, torch::kCPU, init, 50});
}

Spec case_spec(const LearnerCase& c) {
  auto values = c.is_discrete ? kSmallDiscrete : kSmallContinuous;
  values.push_back({"offline.algo", c.algo});
  values.push_back({"atac.warmup_steps", "2"});  // steps 1-2 warm start, then ATAC proper
  return make_spec(values);
}

Transitions case_batch(const LearnerCase& c, uint64_t seed) {
  return c.is_discrete ? random_batch(image_obs(), discrete(4), 8, seed)
                       : random_batch(vector_obs(3), continuous(2), 8, seed);
}

class OfflineLearners : public ::testing::TestWithParam<LearnerCase> {};

TEST_P(OfflineLearners, UpdateReturnsOnlyDeclaredMetrics) {
  const Spec spec = case_spec(GetParam());
  at::Generator init = at::detail::createCPUGenerator(1), gen = at::detail::createCPUGenerator(2);
  auto learner = build(GetParam(), spec, init);
  const std::vector<std::string> declared = learner->metrics();
  const std::set<std::string> allowed(declared.begin(), declared.end());
  for (int64_t step = 1; step <= 4; ++step) {
    const auto metrics = learner->update(case_batch(GetParam(), step), step, gen);
    EXPECT_FALSE(metrics.empty());
    for (const auto& [name, value] : metrics) {
      EXPECT_TRUE(allowed.count(name)) << name << " is not declared";
      EXPECT_TRUE(std::isfinite(value)) << name;
    }
  }
}

TEST_P(OfflineLearners, NonFiniteInputsThrowNonFiniteLoss) {
  const Spec spec = case_spec(GetParam());
  at::Generator init = at::detail::createCPUGenerator(1), gen = at::detail::createCPUGenerator(2);
  auto learner = build(GetParam(), spec, init);
  Transitions b = case_batch(GetParam(), 3);
  // BC never reads rewards: poison what it reads instead.
  if (GetParam().algo == "bc")
    b.observations[0].fill_(std::nan(""));
  else
    b.rewards[0] = std::nan("");
  EXPECT_THROW(learner->update(b, 1, gen), NonFiniteLoss);
}

TEST_P(OfflineLearners, CheckpointReproducesTheNextUpdate) {
  const Spec spec = case_spec(GetParam());
  at::Generator init_a = at::detail::createCPUGenerator(1), init_b = at::detail::createCPUGenerator(99);
  at::Generator gen = at::detail::createCPUGenerator(2);
  auto a = build(GetParam(), spec, init_a);
  for (int64_t step = 1; step <= 3; ++step) a->update(case_batch(GetParam(), step), step, gen);
  const std::string path = test::make_temp_dir() + "/learner.pt";
  Checkpoint saved;
  a->add_parts(saved);
  saved.save(path, spec.to_ini());

  auto b = build(GetParam(), spec, init_b);
  Checkpoint loaded;
  b->add_parts(loaded);
  loaded.load(path);

  const Transitions batch = case_batch(GetParam(), 4);
  at::Generator gen_b = gen.clone();
  const auto ma = a->update(batch, 4, gen);
  const auto mb = b->update(batch, 4, gen_b);
  ASSERT_EQ(ma.size(), mb.size());
  for (const auto& [name, value] : ma) EXPECT_EQ(value, mb.at(name)) << name;
  const auto pa = a->policy()->parameters(), pb = b->policy()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

INSTANTIATE_TEST_SUITE_P(Offline, OfflineLearners,
                         ::testing::Values(LearnerCase{"bc", false}, LearnerCase{"bc", true}, LearnerCase{"iql", false},
                                           LearnerCase{"iql", true}, LearnerCase{"atac", false},
                                           LearnerCase{"atac", true}),
                         [](const ::testing::TestParamInfo<LearnerCase>& info) {
                           return info.param.algo + (info.param.is_discrete ? "Discrete" : "Continuous");
                         });

// ---------------------------------------------------------------------------------------------
// The tanh-Gaussian policy head.

TEST(OfflinePolicyHead, TanhGaussianLogProbMatchesHandComputation) {
  NetworkConfig config;
  config.torso = "mlp";
  config.hidden = 8;
  config.policy_head = "tanh_gaussian";
  at::Generator init = at::detail::createCPUGenerator(4);
  ActorCritic net(config, vector_obs(3), continuous(2), init);
  EXPECT_FALSE(net->log_std.defined());
  const at::Tensor x = torch::rand({5, 3});
  const at::Tensor out = net->forward(x).logits_or_mean;
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 4}));
  const at::Tensor a = torch::rand({5, 2}) * 1.8 - 0.9;
  const at::Tensor lp = log_prob_of(*net, out, a);
  for (int64_t i = 0; i < 5; ++i) {
    double expected = 0;
    for (int64_t j = 0; j < 2; ++j) {
      const double m = out[i][j].item<double>(), ls = out[i][2 + j].item<double>(), y = a[i][j].item<double>();
      const double u = std::atanh(y), sd = std::exp(ls);
      expected += -0.5 * std::pow((u - m) / sd, 2) - ls - 0.5 * std::log(2 * M_PI) - std::log(1 - y * y);
    }
    EXPECT_NEAR(lp[i].item<double>(), expected, 1e-4);
  }
  // Greedy is tanh(mean); a reparameterised sample's log-prob agrees with log_prob_of.
  EXPECT_TRUE(torch::allclose(greedy_action(*net, out), torch::tanh(out.narrow(1, 0, 2))));
  at::Generator gen = at::detail::createCPUGenerator(5);
  const ActionSample s = rsample_action(*net, out, gen);
  EXPECT_LT(s.action.abs().max().item<double>(), 1.0);
  EXPECT_TRUE(torch::allclose(s.log_prob, log_prob_of(*net, out, s.action), 1e-3, 1e-3));
  EXPECT_TRUE(s.log_prob.requires_grad());
  // Dataset actions on the bounds still have a finite likelihood.
  EXPECT_TRUE(std::isfinite(log_prob_of(*net, out, torch::ones({5, 2})).sum().item<double>()));
}

TEST(OfflinePolicyHead, LogStdIsClampedAndTapNamesStayListed) {
  NetworkConfig config;
  config.torso = "mlp";
  config.hidden = 8;
  config.mlp_activation = "relu";
  config.policy_head = "tanh_gaussian";
  at::Generator init = at::detail::createCPUGenerator(4);
  ActorCritic net(config, vector_obs(3), continuous(2), init);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters())
      if (p.key() == "fc_policy.bias") p.value().copy_(torch::tensor({0.0f, 0.0f, 50.0f, -50.0f}));
  }
  const at::Tensor out = net->forward(torch::zeros({1, 3})).logits_or_mean;
  EXPECT_NEAR(out[0][2].item<double>(), std::log(10.0), 1e-5);
  EXPECT_NEAR(out[0][3].item<double>(), std::log(1e-5), 1e-4);
  const auto& names = net->layer_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "embedder.relu1_out"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "fc_policy_out"), names.end());
}

TEST(OfflinePolicyHead, TanhGaussianNeedsUnitBounds) {
  NetworkConfig config;
  config.torso = "mlp";
  config.policy_head = "tanh_gaussian";
  ActionSpec act = continuous(2);
  act.low = -2;
  act.high = 2;
  at::Generator init = at::detail::createCPUGenerator(4);
  EXPECT_THROW(ActorCritic(config, vector_obs(3), act, init), InputError);
}

// A tanh-Gaussian policy (ATAC's, BC's) and a tanh-mean Gaussian (IQL's reference head) saved like
// an offline learner's "model" load and act through the same path as `shardlab eval`.
TEST(OfflinePolicyHead, SavedOfflinePoliciesLoadForEvaluation) {
  for (const std::string head : {"tanh_gaussian", "tanh_mean_gaussian"}) {
    const SpecSchema& schema = shardlab_schema();
    Spec spec(schema);
    spec.set("env.name", "lunar_lander_continuous", "test");
    spec.set("agent.torso", "mlp", "test");
    spec.set("agent.policy_head", head, "test");
    auto env = make_env(spec, 0);
    at::Generator init = at::detail::createCPUGenerator(8);
    ActorCritic net(NetworkConfig::from_spec(spec), env->observation_spec(), env->action_spec(), init);
    const std::string path = test::make_temp_dir() + "/policy.pt";
    save_policy(path, *net, spec);
    LoadedPolicy loaded = load_policy(path, schema);
    ASSERT_EQ(loaded.net->tanh_gaussian(), head == "tanh_gaussian") << head;
    torch::NoGradGuard no_grad;
    const at::Tensor x = torch::rand({4, env->observation_spec().size()});
    EXPECT_TRUE(torch::equal(greedy_action(*net, net->forward(x).logits_or_mean),
                             greedy_action(*loaded.net, loaded.net->forward(x).logits_or_mean)))
        << head;
  }
}

}  // namespace
}  // namespace shardlab
