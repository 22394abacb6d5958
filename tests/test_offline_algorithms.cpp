// The offline learners (offline/bc, iql, atac) and the tanh-Gaussian policy head: losses against
// hand computations on tiny networks with hand-set weights, the norm projection, BC recovering a
// scripted policy, the metric columns, NaN detection and exact checkpoint resumption.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "agents/checkpoint.h"
#include "core/error.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "experiments/schema.h"
#include "offline/atac.h"
#include "offline/bc.h"
#include "offline/iql.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

Spec make_spec(const std::vector<std::pair<std::string, std::string>>& values) {
  Spec spec(shardlab_schema());
  for (const auto& [k, v] : values) spec.set(k, v, "test");
  return spec;
}

ObservationSpec vector_obs(int64_t n) {
  ObservationSpec o;
  o.shape = {n};
  o.low = -1;
  o.high = 1;
  return o;
}

ActionSpec continuous(int64_t dim) {
  ActionSpec a;
  a.discrete = false;
  a.dim = dim;
  return a;
}

ActionSpec discrete(int64_t n) {
  ActionSpec a;
  a.discrete = true;
  a.num_actions = n;
  return a;
}

Transitions random_batch(const ObservationSpec& obs, const ActionSpec& act, int64_t n, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), obs.shape.begin(), obs.shape.end());
  Transitions b;
  b.observations = at::rand(shape, g, torch::kFloat32);
  b.next_observations = at::rand(shape, g, torch::kFloat32);
  b.actions = act.discrete ? at::randint(act.num_actions, {n}, g, torch::kInt64)
                           : at::rand({n, act.dim}, g, torch::kFloat32) * 1.8 - 0.9;
  b.rewards = at::rand({n}, g, torch::kFloat32);
  b.terminals = (at::rand({n}, g, torch::kFloat32) < 0.2).to(torch::kFloat32);
  return b;
}

// The spec of a small continuous learner (tanh-Gaussian actor, small MLPs).
const std::vector<std::pair<std::string, std::string>> kSmallContinuous = {{"agent.torso", "mlp"},
                                                                           {"agent.hidden", "16"},
                                                                           {"agent.mlp_layers", "2"},
                                                                           {"agent.mlp_activation", "relu"},
                                                                           {"agent.policy_head", "tanh_gaussian"},
                                                                           {"atac.hidden", "16"},
                                                                           {"atac.layers", "2"},
                                                                           {"iql.hidden", "16"},
                                                                           {"iql.layers", "2"}};
// A small discrete learner on image observations (the maze's shape, tiny widths).
const std::vector<std::pair<std::string, std::string>> kSmallDiscrete = {
    {"agent.torso", "impala"}, {"agent.channels", "4,4"}, {"agent.hidden", "16"}};

ObservationSpec image_obs() {
  ObservationSpec o;
  o.shape = {3, 7, 7};
  return o;
}

// ---------------------------------------------------------------------------------------------
// ATAC

TEST(OfflineAtac, NormalizedSumBothBranches) {
  const at::Tensor x = torch::tensor({2.0}), reg = torch::tensor({3.0});
  EXPECT_NEAR(normalized_sum(x, reg, 4.0).item<double>(), 2.0 / 4.0 + 3.0, 1e-6);  // w > 1: x / w + reg
  EXPECT_NEAR(normalized_sum(x, reg, 0.5).item<double>(), 2.0 + 0.5 * 3.0, 1e-6);  // w <= 1: x + w reg
  EXPECT_NEAR(normalized_sum(x, reg, 1.0).item<double>(), 2.0 + 3.0, 1e-6);
}

TEST(OfflineAtac, ValueBoundsFollowTheReferenceFormula) {
  auto [vmin, vmax] = atac_value_bounds(-1.0, 2.0, 0.99);
  EXPECT_NEAR(vmax, 200.0, 1e-9);
  EXPECT_NEAR(vmin, -100.0, 1e-9);
  std::tie(vmin, vmax) = atac_value_bounds(0.0, 0.0, 0.99);  // zero rewards: Vmax - 1/(1-gamma) rules
  EXPECT_NEAR(vmax, 0.0, 1e-9);
  EXPECT_NEAR(vmin, -100.0, 1e-9);
}

TEST(OfflineAtac, FrobeniusProjection) {
  // Two groups (heads): norms 300 and 50.
  at::Tensor w = torch::ones({2, 3, 4});
  w[0].mul_(300.0 / std::sqrt(12.0));
  w[1].mul_(50.0 / std::sqrt(12.0));
  const at::Tensor before1 = w[1].clone();
  project_weight_norms({w}, 100.0);
  EXPECT_NEAR(w[0].norm().item<double>(), 100.0, 1e-3);
  EXPECT_TRUE(torch::equal(w[1], before1));
  // Direction kept.
  EXPECT_NEAR((w[0] / w[0].norm() - torch::ones({3, 4}) / std::sqrt(12.0)).abs().max().item<double>(), 0.0, 1e-6);
}

TEST(OfflineAtac, LearnerProjectsEveryCriticMatrix) {
  const Spec spec = make_spec(kSmallContinuous);
  at::Generator init = at::detail::createCPUGenerator(1);
  AtacLearner learner({spec, vector_obs(3), continuous(2), torch::kCPU, init, 10}, AtacConfig::from_spec(spec));
  {
    torch::NoGradGuard no_grad;
    for (auto& w : learner.continuous_q->mlp->weights) w.mul_(1000.0);
  }
  learner.project_critic();
  for (auto& w : learner.continuous_q->mlp->weights)
    for (int64_t h = 0; h < 2; ++h) EXPECT_LE(w[h].norm().item<double>(), 100.0 + 1e-3);
}

// A 1-hidden-unit twin critic on 1-d states and actions, weights set by hand:
//   Q_0(s, a) = relu(s + a),   Q_1(s, a) = relu(2 s + a) + 1.
struct HandCritic {
  static double q(int head, double s, double a) {
    return head == 0 ? std::max(0.0, s + a) : std::max(0.0, 2 * s + a) + 1.0;
  }
  static void set(ContinuousTwinQImpl& q) {
    torch::NoGradGuard no_grad;
    auto& w = q.mlp->weights;
    auto& b = q.mlp->biases;
    ASSERT_EQ(w.size(), 2u);
    w[0].copy_(torch::tensor({1.0f, 1.0f, 2.0f, 1.0f}).view({2, 2, 1}));
    b[0].zero_();
    w[1].fill_(1.0);
    b[1].copy_(torch::tensor({0.0f, 1.0f}).view({2, 1, 1}));
  }
};

struct HandAtac {
  Spec spec;
  at::Generator init = at::detail::createCPUGenerator(3);
  std::unique_ptr<AtacLearner> learner;
  Transitions batch;
  explicit HandAtac(double beta)
      : spec(make_spec({{"agent.torso", "mlp"},
                        {"agent.policy_head", "tanh_gaussian"},
                        {"atac.hidden", "1"},
                        {"atac.layers", "1"},
                        {"atac.beta", std::to_string(beta)}})) {
    learner = std::make_unique<AtacLearner>(LearnerContext{spec, vector_obs(1), continuous(1), torch::kCPU, init, 10},
                                            AtacConfig::from_spec(spec));
    HandCritic::set(*learner->continuous_q);
    HandCritic::set(*learner->continuous_q_target);
    batch.observations = torch::tensor({1.0f, 2.0f}).view({2, 1});
    batch.actions = torch::tensor({0.5f, -1.0f}).view({2, 1});
    batch.rewards = torch::tensor({1.0f, 0.0f});
    batch.next_observations = torch::tensor({2.0f, -0.5f}).view({2, 1});
    batch.terminals = torch::tensor({0.0f, 1.0f});
  }
};

TEST(OfflineAtac, CriticLossMatchesHandComputation) {
  const double s[2] = {1, 2}, a[2] = {0.5, -1}, r[2] = {1, 0}, s2[2] = {2, -0.5}, d[2] = {0, 1};
  const double a_next[2] = {0.5, 0.0}, a_pi[2] = {1.0, -0.5};
  const double gamma = 0.99;
  for (double beta : {4.0, 0.25}) {
    HandAtac h(beta);
    const AtacCriticLoss loss = h.learner->critic_loss(h.batch, torch::tensor({0.5f, 0.0f}).view({2, 1}),
                                                       torch::tensor({1.0f, -0.5f}).view({2, 1}), false);
    double total = 0, grad_b1[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
      double td = 0, res = 0, pess = 0;
      for (int j = 0; j < 2; ++j) {
        const double q = HandCritic::q(i, s[j], a[j]);
        const double y = r[j] + (1 - d[j]) * gamma *
                                    std::min(HandCritic::q(0, s2[j], a_next[j]), HandCritic::q(1, s2[j], a_next[j]));
        const double y_res = r[j] + (1 - d[j]) * gamma * HandCritic::q(i, s2[j], a_next[j]);
        td += 0.5 * std::pow(q - y, 2);
        res += 0.5 * std::pow(q - y_res, 2);
        pess += 0.5 * (HandCritic::q(i, s[j], a_pi[j]) - q);
        // d/d(output bias): the residual backup moves with it too, unless the episode ended.
        grad_b1[i] += 0.5 * 0.5 * 2 * (q - y) + 0.5 * 0.5 * 2 * (q - y_res) * (1 - (1 - d[j]) * gamma);
      }
      const double bellman = 0.5 * td + 0.5 * res;
      EXPECT_NEAR(loss.bellman[i].item<double>(), bellman, 1e-5) << "head " << i;
      EXPECT_NEAR(loss.pessimism[i].item<double>(), pess, 1e-5) << "head " << i;
      total += beta > 1 ? pess / beta + bellman : pess + beta * bellman;
      if (beta <= 1) grad_b1[i] *= beta;
    }
    EXPECT_NEAR(loss.loss.item<double>(), total, 1e-5) << "beta " << beta;
    h.learner->continuous_q->zero_grad();
    loss.loss.backward();
    const at::Tensor g = h.learner->continuous_q->mlp->biases[1].grad().flatten();
    EXPECT_NEAR(g[0].item<double>(), grad_b1[0], 1e-5);
    EXPECT_NEAR(g[1].item<double>(), grad_b1[1], 1e-5);
  }
  // Warm-up: the Bellman terms alone, as lightATAC's expectile-0.5 losses (half the squared error).
  HandAtac h(4.0);
  const AtacCriticLoss warm = h.learner->critic_loss(h.batch, torch::tensor({0.5f, 0.0f}).view({2, 1}),
                                                     torch::tensor({1.0f, -0.5f}).view({2, 1}), true);
  EXPECT_NEAR(warm.loss.item<double>(), 0.5 * warm.bellman.sum().item<double>(), 1e-6);
}

TEST(OfflineAtac, ActorLossUsesTheSecondHeadOnly) {
  HandAtac h(1.0);
  const double s[2] = {1, 2};
  const at::Tensor a_pi = torch::tensor({1.0f, -0.5f}).view({2, 1}).requires_grad_(true);
  const at::Tensor log_prob = torch::tensor({-1.0f, 0.5f}).requires_grad_(true);
  for (double alpha : {0.5, 2.0}) {
    const AtacActorLoss loss = h.learner->actor_loss(h.batch, a_pi, log_prob, alpha);
    const double q2 = 0.5 * (HandCritic::q(1, s[0], 1.0) + HandCritic::q(1, s[1], -0.5));
    const double entropy = -0.5 * (-1.0 + 0.5);
    EXPECT_NEAR(loss.q_policy.item<double>(), q2, 1e-5);
    EXPECT_NEAR(loss.entropy.item<double>(), entropy, 1e-6);
    const double expected = alpha > 1 ? -q2 / alpha - entropy : -q2 - alpha * entropy;
    EXPECT_NEAR(loss.loss.item<double>(), expected, 1e-5) << "alpha " << alpha;
  }
  // The gradient reaches the actions but not the critic.
  h.learner->continuous_q->zero_grad();
  const AtacActorLoss loss = h.learner->actor_loss(h.batch, a_pi, log_prob, 0.5);
  loss.loss.backward();
  EXPECT_NEAR(a_pi.grad()[0][0].item<double>(), -0.5, 1e-6);  // d/da of -mean relu(2s + a)
  for (const auto& p : h.learner->continuous_q->parameters())
    EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0);
}

TEST(OfflineAtac, DiscreteExpectationsEqualSumsOverActions) {
  const Spec spec = make_spec(kSmallDiscrete);
  at::Generator init = at::detail::createCPUGenerator(5);
  const int64_t A = 4, n = 3;
  AtacLearner learner({spec, image_obs(), discrete(A), torch::kCPU, init, 10}, AtacConfig::from_spec(spec));
  const Transitions b = random_batch(image_obs(), discrete(A), n, 7);
  const at::Tensor pi_next = torch::softmax(torch::randn({n, A}), 1);
  const at::Tensor pi = torch::softmax(torch::randn({n, A}), 1);
  const AtacCriticLoss loss = learner.critic_loss(b, pi_next, pi, false);

  at::Tensor q, q_next, qt;
  {
    torch::NoGradGuard no_grad;
    q = learner.discrete_q->forward(b.observations).to(torch::kFloat64);
    q_next = learner.discrete_q->forward(b.next_observations).to(torch::kFloat64);
    qt = learner.discrete_q_target->forward(b.next_observations).to(torch::kFloat64);
  }
  const double gamma = 0.99, beta = 1.0;
  double total = 0;
  for (int64_t i = 0; i < 2; ++i) {
    double td = 0, res = 0, pess = 0;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t act = b.actions[j].item<int64_t>();
      const double r = b.rewards[j].item<double>(), d = b.terminals[j].item<double>();
      double v_target = 0, v_next = 0, v_pi = 0;
      for (int64_t k = 0; k < A; ++k) {
        const double p_next = pi_next[j][k].item<double>(), p = pi[j][k].item<double>();
        v_target += p_next * std::min(qt[0][j][k].item<double>(), qt[1][j][k].item<double>());
        v_next += p_next * q_next[i][j][k].item<double>();
        v_pi += p * q[i][j][k].item<double>();
      }
      const double q_data = q[i][j][act].item<double>();
      td += std::pow(q_data - (r + (1 - d) * gamma * v_target), 2) / n;
      res += std::pow(q_data - (r + (1 - d) * gamma * v_next), 2) / n;
      pess += (v_pi - q_data) / n;
    }
    EXPECT_NEAR(loss.pessimism[i].item<double>(), pess, 1e-4);
    EXPECT_NEAR(loss.bellman[i].item<double>(), 0.5 * td + 0.5 * res, 1e-4);
    total += pess + beta * (0.5 * td + 0.5 * res);
  }
  EXPECT_NEAR(loss.loss.item<double>(), total, 1e-4);

  // Actor: normalized_sum(-E_pi Q_2, -H(pi), alpha) with the exact categorical entropy.
  const at::Tensor log_pi = torch::log_softmax(torch::randn({n, A}), 1);
  const AtacActorLoss actor = learner.actor_loss(b, log_pi.exp(), log_pi, 0.3);
  at::Tensor q2;
  {
    torch::NoGradGuard no_grad;
    q2 = learner.discrete_q->forward(b.observations)[1].to(torch::kFloat64);
  }
  double lower = 0, entropy = 0;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t k = 0; k < A; ++k) {
      const double lp = log_pi[j][k].item<double>();
      lower += std::exp(lp) * q2[j][k].item<double>() / n;
      entropy -= std::exp(lp) * lp / n;
    }
  EXPECT_NEAR(actor.loss.item<double>(), -lower - 0.3 * entropy, 1e-4);
  EXPECT_NEAR(learner.target_entropy(), 0.2 * std::log(4.0), 1e-9);
}

TEST(OfflineAtac, ClipValuesNeedsTheRewardRange) {
  const Spec spec = make_spec({{"agent.torso", "mlp"}, {"atac.clip_values", "true"}, {"atac.hidden", "4"}});
  at::Generator init = at::detail::createCPUGenerator(1);
  EXPECT_THROW(AtacLearner({spec, vector_obs(2), continuous(1), torch::kCPU, init, 10}, AtacConfig::from_spec(spec)),
               InputError);
  LearnerContext context{spec, vector_obs(2), continuous(1), torch::kCPU, init, 10};
  context.reward_min = 0.0;
  context.reward_max = 1.0;
  AtacLearner learner(context, AtacConfig::from_spec(spec));
  // Targets beyond [Vmin, Vmax] = [0, 100] are clipped: a reward of 1000 backs up to 100.
  Transitions b = random_batch(vector_obs(2), continuous(1), 4, 2);
  b.rewards.fill_(1000.0);
  b.terminals.fill_(1.0);
  const AtacCriticLoss loss = learner.critic_loss(b, b.actions, b.actions, true);
  const at::Tensor q = loss.q_data;
  const double expected = 0.5 * ((q - 100.0).pow(2).mean(1)).sum().item<double>();  // the warm start's half
  EXPECT_NEAR(loss.loss.item<double>(), expected, 1e-3);
}

// ---------------------------------------------------------------------------------------------
// IQL

TEST(OfflineIql, ExpectileLossOnKnownResiduals) {
  EXPECT_NEAR(expectile_loss(torch::tensor({2.0f}), 0.7).item<double>(), 0.7 * 4, 1e-6);
  EXPECT_NEAR(expectile_loss(torch::tensor({-2.0f}), 0.7).item<double>(), 0.3 * 4, 1e-6);
  EXPECT_NEAR(expectile_loss(torch::tensor({2.0f, -2.0f, 0.0f}), 0.7).item<double>(), (2.8 + 1.2) / 3, 1e-6);
}

TEST(OfflineIql, ActorLearningRateDecaysOnACosine) {
  const Spec spec = make_spec(kSmallContinuous);
  at::Generator init = at::detail::createCPUGenerator(1);
  IqlLearner learner({spec, vector_obs(3), continuous(2), torch::kCPU, init, 100}, IqlConfig::from_spec(spec));
  EXPECT_NEAR(learner.actor_lr_at(1), 3e-4, 1e-12);
  EXPECT_NEAR(learner.actor_lr_at(51), 1.5e-4, 1e-12);
  EXPECT_NEAR(learner.actor_lr_at(101), 0.0, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// BC

// Observations in [-1, -0.1] U [0.1, 1]: a margin around the scripted policies' discontinuities.
at::Tensor margin_observations(int64_t n, at::Generator& g) {
  const at::Tensor magnitude = at::rand({n, 2}, g) * 0.9 + 0.1;
  return torch::where(at::rand({n, 2}, g) < 0.5, -magnitude, magnitude);
}

// Scripted continuous policy: a = (0.5 sign(x0), -0.5 sign(x1)). BC's default objective is ATAC's
// warm start with lightATAC's initialisation (nn.Linear's defaults) and per-dimension likelihood;
// measured: about 0.89 of greedy actions within 0.1 after 1,000 steps, 0.95 after 2,000 (orthogonal
// initialisation passes 0.95 at 1,000: the smaller default weights fit the step edges more slowly).
TEST(OfflineBc, RecoversAScriptedContinuousPolicy) {
  const Spec spec = make_spec({{"agent.torso", "mlp"},
                               {"agent.hidden", "64"},
                               {"agent.mlp_activation", "relu"},
                               {"agent.policy_head", "tanh_gaussian"}});
  at::Generator init = at::detail::createCPUGenerator(11);
  BcLearner learner({spec, vector_obs(2), continuous(2), torch::kCPU, init, 2000}, BcConfig::from_spec(spec));
  at::Generator data = at::detail::createCPUGenerator(12);
  auto script = [](const at::Tensor& x) {
    return torch::stack({0.5 * x.select(1, 0).sign(), -0.5 * x.select(1, 1).sign()}, 1);
  };
  const at::Tensor x = margin_observations(1000, data);
  auto close_share = [&] {
    torch::NoGradGuard no_grad;
    ActorCritic net = learner.policy();
    const at::Tensor greedy = greedy_action(*net, net->forward(x).logits_or_mean);
    return ((greedy - script(x)).abs().amax(1) < 0.1).to(torch::kFloat64).mean().item<double>();
  };
  EXPECT_LT(close_share(), 0.2) << "the untrained policy already acts as the script";
  for (int64_t step = 1; step <= 2000; ++step) {
    Transitions b;
    b.observations = margin_observations(128, data);
    b.actions = script(b.observations);
    b.next_observations = b.observations;
    b.rewards = torch::zeros({128});
    b.terminals = torch::zeros({128});
    learner.update(b, step, data);
  }
  EXPECT_GT(close_share(), 0.9);
}

// Scripted discrete policy: a = 1(x0 > 0) + 2 * 1(x1 > 0).
TEST(OfflineBc, RecoversAScriptedDiscretePolicy) {
  const Spec spec = make_spec({{"agent.torso", "mlp"}, {"agent.hidden", "32"}});
  at::Generator init = at::detail::createCPUGenerator(21);
  BcLearner learner({spec, vector_obs(2), discrete(4), torch::kCPU, init, 400}, BcConfig::from_spec(spec));
  at::Generator data = at::detail::createCPUGenerator(22);
  auto script = [](const at::Tensor& x) {
    return ((x.select(1, 0) > 0).to(torch::kInt64) + 2 * (x.select(1, 1) > 0).to(torch::kInt64));
  };
  for (int64_t step = 1; step <= 400; ++step) {
    Transitions b;
    b.observations = at::rand({128, 2}, data) * 2 - 1;
    b.actions = script(b.observations);
    b.next_observations = b.observations;
    b.rewards = torch::zeros({128});
    b.terminals = torch::zeros({128});
    learner.update(b, step, data);
  }
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::rand({1000, 2}, data) * 2 - 1;
  ActorCritic net = learner.policy();
  const double accuracy =
      (greedy_action(*net, net->forward(x).logits_or_mean) == script(x)).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(accuracy, 0.95);
}

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
