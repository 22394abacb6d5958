// The offline learners (offline/bc, iql, atac): losses against hand computations on tiny networks
// with hand-set weights, the norm projection and BC recovering a scripted policy (what every learner
// shares, and the tanh-Gaussian policy head: tests/test_offline_learners.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <tuple>

#include "agents/actor_critic.h"
#include "core/error.h"
#include "core/spec.h"
#include "offline/atac.h"
#include "offline/bc.h"
#include "offline/iql.h"
#include "tests/offline_learner_helpers.h"

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

}  // namespace
}  // namespace shardlab
