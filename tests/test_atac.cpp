// ATAC as lightATAC has it (offline/atac.h): the per-dimension entropy estimate and its target, the
// actor's PyTorch-default initialisation, the target critic around the warm start's switch, and the
// hand-written (fused) step against the autograd one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "agents/checkpoint.h"
#include "core/spec.h"
#include "experiments/schema.h"
#include "offline/atac.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using Values = std::vector<std::pair<std::string, std::string>>;

// A continuous ATAC learner on `obs`-dimensional states and `dim`-dimensional actions: the
// reference's layout (ReLU MLPs, tanh-Gaussian actor) at width `hidden`, plus `extra` keys.
std::unique_ptr<AtacLearner> make_atac(int64_t obs, int64_t dim, int64_t hidden, const Values& extra, uint64_t seed,
                                       double reward_min = NAN, double reward_max = NAN) {
  static std::vector<std::unique_ptr<Spec>> specs;  // a learner keeps a reference to its context's spec
  Values values = {{"agent.torso", "mlp"},
                   {"agent.hidden", std::to_string(hidden)},
                   {"agent.mlp_layers", "2"},
                   {"agent.mlp_activation", "relu"},
                   {"agent.policy_head", "tanh_gaussian"},
                   {"atac.hidden", std::to_string(hidden)},
                   {"atac.layers", "2"},
                   {"atac.warmup_steps", "0"}};
  values.insert(values.end(), extra.begin(), extra.end());
  specs.push_back(std::make_unique<Spec>(shardlab_schema()));
  for (const auto& [k, v] : values) specs.back()->set(k, v, "test");
  ObservationSpec o;
  o.shape = {obs};
  ActionSpec a;
  a.discrete = false;
  a.dim = dim;
  at::Generator init = at::detail::createCPUGenerator(seed);
  LearnerContext context{*specs.back(), o, a, torch::kCPU, init, 100};
  context.reward_min = reward_min;
  context.reward_max = reward_max;
  return std::make_unique<AtacLearner>(context, AtacConfig::from_spec(*specs.back()));
}

Transitions batch_of(int64_t n, int64_t obs, int64_t dim, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  Transitions b;
  b.observations = at::rand({n, obs}, g) * 2 - 1;
  b.next_observations = at::rand({n, obs}, g) * 2 - 1;
  b.actions = at::rand({n, dim}, g) * 2 - 1;
  b.actions[0].fill_(1.0);  // an action on the bound, as a heuristic pilot's dataset has them
  b.rewards = at::rand({n}, g);
  b.terminals = (at::rand({n}, g) < 0.2).to(torch::kFloat32);
  return b;
}

std::vector<at::Tensor> copies(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> out;
  for (const auto& p : params) out.push_back(p.detach().clone());
  return out;
}

// ---------------------------------------------------------------------------------------------
// The entropy estimate and its target.

TEST(AtacEntropy, PerDimensionAveragesOverDimensionsAgainstMinusTheActionDimension) {
  // Two samples whose log-densities, summed over 2 dimensions, are -1 and 3: lightATAC's estimate
  // -mean over the batch and the dimensions is -(-1 + 3) / 4 = -0.5; the per-action one -1.
  const at::Tensor log_prob = torch::tensor({-1.0f, 3.0f});
  auto per_dimension = make_atac(3, 2, 8, {}, 1);
  auto per_action = make_atac(3, 2, 8, {{"atac.entropy", "per_action"}}, 1);
  EXPECT_NEAR(per_dimension->entropy_estimate(at::Tensor(), log_prob).item<double>(), -0.5, 1e-7);
  EXPECT_NEAR(per_action->entropy_estimate(at::Tensor(), log_prob).item<double>(), -1.0, 1e-7);
  EXPECT_EQ(per_dimension->target_entropy(), -2.0);
  EXPECT_EQ(per_action->target_entropy(), -2.0);
}

// A policy that ignores the state: mean 0 and log-std -2.92 in both dimensions. Per dimension
// log pi = -eps^2/2 + 2.92 - log(2 pi)/2 - log(1 - tanh^2(std eps)), whose mean is -0.5 + 2.92 -
// 0.9189 + std^2 (to first order) = 1.504: entropy -1.504 per dimension, above the target -2, and
// -3.008 per action, below it. So the temperature falls under lightATAC's estimate and rises under
// the sum (Adam's first step moves log alpha by exactly its step size, 5e-4).
TEST(AtacEntropy, TheTemperatureFollowsThePerDimensionEstimate) {
  for (const bool per_dimension : {true, false}) {
    auto learner = make_atac(3, 2, 8, {{"atac.entropy", per_dimension ? "per_dimension" : "per_action"}}, 2);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : learner->policy()->named_parameters())
        if (p.key() == "fc_policy.weight")
          p.value().zero_();
        else if (p.key() == "fc_policy.bias")
          p.value().copy_(torch::tensor({0.0f, 0.0f, -2.92f, -2.92f}));
    }
    at::Generator gen = at::detail::createCPUGenerator(3);
    const auto m = learner->update(batch_of(4096, 3, 2, 4), 1, gen);
    const double expected = per_dimension ? -1.504 : -3.008;
    EXPECT_NEAR(m.at("losses/entropy"), expected, 0.05) << per_dimension;
    EXPECT_NEAR(m.at("charts/alpha"), std::exp(per_dimension ? -5e-4 : 5e-4), 1e-6) << per_dimension;
  }
}

// ---------------------------------------------------------------------------------------------
// The actor's initialisation.

TEST(AtacInit, TheActorKeepsPyTorchsLinearDefaultWithUnitStd) {
  auto learner = make_atac(8, 2, 256, {}, 5);
  int64_t checked = 0;
  for (const auto& p : learner->policy()->named_parameters()) {
    const at::Tensor v = p.value().detach();
    if (p.key().rfind("fc_value", 0) == 0) continue;
    const std::string& name = p.key();
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    SCOPED_TRACE(name);
    // fan_in: the weight's columns (the bias shares its layer's).
    int64_t fan_in = 0;
    for (const auto& q : learner->policy()->named_parameters())
      if (q.key() == name.substr(0, name.rfind('.')) + ".weight") fan_in = q.value().size(1);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    at::Tensor drawn = v;
    if (name.rfind("fc_policy", 0) == 0) {  // rows 0-1 the means, 2-3 the log-stds: zero (std 1)
      EXPECT_EQ(v.narrow(0, 2, 2).abs().max().item<double>(), 0.0);
      drawn = v.narrow(0, 0, 2);
    }
    EXPECT_LE(drawn.abs().max().item<double>(), bound);
    if (!bias && fan_in == 256) {  // uniform on +-bound: standard deviation bound / sqrt(3)
      EXPECT_NEAR(drawn.std().item<double>(), bound / std::sqrt(3.0), 0.05 * bound);
      ++checked;
    }
  }
  EXPECT_GE(checked, 2);  // the torso's second layer and fc_policy
  // The state-dependent log-std starts at 0 everywhere.
  const at::Tensor out = learner->policy()->forward(torch::randn({5, 8})).logits_or_mean;
  EXPECT_EQ(out.narrow(1, 2, 2).abs().max().item<double>(), 0.0);
  // The critic: PyTorch's default too.
  const auto& w = learner->continuous_q->mlp->weights;
  EXPECT_LE(w[1].abs().max().item<double>(), 1.0 / 16.0);
  EXPECT_NEAR(w[1].std().item<double>(), 1.0 / 16.0 / std::sqrt(3.0), 0.05 / 16.0);
}

TEST(AtacInit, OrthogonalKeepsPposInitialisation) {
  auto learner = make_atac(8, 2, 64, {{"atac.actor_init", "orthogonal"}}, 5);
  for (const auto& p : learner->policy()->named_parameters())
    if (p.key() == "embedder.fc2.weight") {
      const at::Tensor w = p.value().detach();  // gain sqrt(2): W W^T = 2 I
      EXPECT_TRUE(torch::allclose(w.mm(w.t()), 2.0 * torch::eye(64), 1e-4, 1e-4));
    }
}

// ---------------------------------------------------------------------------------------------
// The target critic around the warm start.

// lightATAC's pretraining moves its target before its critic's loss; its ATAC starts from a copy of
// the critic taken before the pretraining (the critic's initial weights).
TEST(AtacWarmStart, AtacProperStartsFromTheInitialCriticAsTarget) {
  for (const std::string mode : {"initial", "kept"}) {
    SCOPED_TRACE(mode);
    auto learner = make_atac(3, 2, 8, {{"atac.warmup_steps", "2"}, {"atac.warmup_target", mode}}, 6);
    const double tau = 5e-3;
    at::Generator gen = at::detail::createCPUGenerator(7);
    const auto initial = copies(learner->continuous_q->parameters());
    learner->update(batch_of(16, 3, 2, 1), 1, gen);
    const auto critic1 = copies(learner->continuous_q->parameters());
    auto target = learner->continuous_q_target->parameters();
    // Step 1 moved the target toward the critic before its step: they were equal, so no change.
    for (size_t i = 0; i < initial.size(); ++i) EXPECT_TRUE(torch::equal(target[i], initial[i]));
    learner->update(batch_of(16, 3, 2, 2), 2, gen);
    const auto target2 = copies(target);
    for (size_t i = 0; i < initial.size(); ++i)
      EXPECT_TRUE(torch::allclose(target2[i], initial[i].lerp(critic1[i], tau), 1e-6, 1e-7));
    learner->update(batch_of(16, 3, 2, 3), 3, gen);  // ATAC proper: target moves after the step
    const auto critic3 = learner->continuous_q->parameters();
    for (size_t i = 0; i < initial.size(); ++i) {
      const at::Tensor start = mode == "initial" ? initial[i] : target2[i];
      EXPECT_TRUE(torch::allclose(target[i], start.lerp(critic3[i], tau), 1e-6, 1e-7));
    }
  }
}

// The initial copy is part of a checkpoint taken in the warm start.
TEST(AtacWarmStart, ACheckpointInTheWarmStartKeepsTheInitialCritic) {
  const Values keys = {{"atac.warmup_steps", "2"}};
  auto a = make_atac(3, 2, 8, keys, 8);
  at::Generator gen = at::detail::createCPUGenerator(9);
  a->update(batch_of(16, 3, 2, 1), 1, gen);
  const std::string path = test::make_temp_dir() + "/atac.pt";
  Checkpoint saved;
  a->add_parts(saved);
  saved.save(path, "");
  auto b = make_atac(3, 2, 8, keys, 99);  // other initial weights, overwritten by the checkpoint
  Checkpoint loaded;
  b->add_parts(loaded);
  loaded.load(path);
  at::Generator gen_b = gen.clone();
  for (int64_t step = 2; step <= 3; ++step) {
    a->update(batch_of(16, 3, 2, step), step, gen);
    b->update(batch_of(16, 3, 2, step), step, gen_b);
  }
  const auto ta = a->continuous_q_target->parameters(), tb = b->continuous_q_target->parameters();
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i]));
}

// ---------------------------------------------------------------------------------------------
// The hand-written step against autograd.

struct FusedCase {
  Values keys;
  double reward_min, reward_max;
  int64_t warmup_steps = 0;  // steps on the shared autograd path before the compared ones
  int64_t hidden = 32;       // 30: widths that leave the four-float loops a tail
};

// From identical states and draws, the fused step and the autograd step give the same losses
// (within 1e-5) and the same parameters; on two threads and on one, the same numbers bit for bit.
TEST(AtacFused, MatchesTheAutogradStep) {
  const std::vector<FusedCase> cases = {
      {{}, NAN, NAN},
      {{{"atac.beta", "4"}, {"atac.init_log_alpha", "0.5"}, {"atac.clip_values", "true"}}, 0.0, 0.005},
      {{{"atac.beta", "0.25"}, {"atac.entropy", "per_action"}, {"atac.warmup_steps", "1"}}, NAN, NAN}};
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    Values one_keys = cases[c].keys, autograd_keys = cases[c].keys, two_keys = cases[c].keys;
    one_keys.push_back({"atac.threads", "1"});
    autograd_keys.push_back({"atac.fused", "false"});
    two_keys.push_back({"atac.threads", "2"});
    auto fused = make_atac(5, 3, 32, one_keys, 10, cases[c].reward_min, cases[c].reward_max);
    auto autograd = make_atac(5, 3, 32, autograd_keys, 10, cases[c].reward_min, cases[c].reward_max);
    auto two = make_atac(5, 3, 32, two_keys, 10, cases[c].reward_min, cases[c].reward_max);
    at::Generator ga = at::detail::createCPUGenerator(11), gb = ga.clone(), gc = ga.clone();
    for (int64_t step = 1; step <= 3; ++step) {
      const Transitions b = batch_of(64, 5, 3, 20 + step);
      const auto mf = fused->update(b, step, ga);
      const auto ma = autograd->update(b, step, gb);
      const auto m2 = two->update(b, step, gc);
      ASSERT_EQ(mf.size(), ma.size());
      for (const auto& [name, value] : ma) {
        EXPECT_NEAR(mf.at(name), value, 1e-5 * (1 + std::abs(value))) << name << " step " << step;
        EXPECT_EQ(m2.at(name), mf.at(name)) << name;
      }
    }
    auto same = [](const std::vector<at::Tensor>& x, const std::vector<at::Tensor>& y, double tol) {
      for (size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(torch::allclose(x[i], y[i], tol, tol)) << i;
    };
    same(fused->continuous_q->parameters(), autograd->continuous_q->parameters(), 1e-5);
    same(fused->continuous_q_target->parameters(), autograd->continuous_q_target->parameters(), 1e-5);
    same(fused->policy()->parameters(), autograd->policy()->parameters(), 1e-5);
    same(fused->policy()->parameters(), two->policy()->parameters(), 0.0);
    same(fused->continuous_q->parameters(), two->continuous_q->parameters(), 0.0);
    same(fused->continuous_q_target->parameters(), two->continuous_q_target->parameters(), 0.0);
  }
}

// ||x - y|| / ||y||, the whole tensor's relative error (0 when both are zero).
double relative_error(const at::Tensor& x, const at::Tensor& y) {
  const double diff = (x.to(torch::kFloat64) - y.to(torch::kFloat64)).norm().item<double>();
  const double scale = y.to(torch::kFloat64).norm().item<double>();
  return scale > 0 ? diff / scale : diff;
}

// The learner's parameters the ATAC step moves: critic, actor (without its value head, unused
// offline) and the temperature, by name.
std::vector<std::pair<std::string, at::Tensor>> stepped_parameters(AtacLearner& learner) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : learner.continuous_q->named_parameters()) out.push_back({"critic." + p.key(), p.value()});
  for (const auto& p : learner.policy()->named_parameters())
    if (p.key().rfind("fc_value.", 0) != 0) out.push_back({"actor." + p.key(), p.value()});
  out.push_back({"log_alpha", learner.log_alpha});
  return out;
}

// Step by step from the same weights and draws, every gradient of the fused step (critic, actor,
// temperature) and every parameter's change (Adam, the norm projection, the Polyak step) equals the
// autograd path's to relative 1e-4 in float32, tensor by tensor. The actor's step size is raised
// so that its changes are far above the float rounding of its weights.
TEST(AtacFused, GradientsAndUpdatesMatchAutogradTensorByTensor) {
  const std::vector<FusedCase> cases = {
      {{}, NAN, NAN},
      {{{"atac.beta", "4"}, {"atac.init_log_alpha", "0.5"}, {"atac.clip_values", "true"}}, 0.0, 0.005},
      {{{"atac.beta", "0.25"}, {"atac.entropy", "per_action"}, {"atac.warmup_steps", "1"}}, NAN, NAN, 1},
      {{}, NAN, NAN, 0, 30}};
  for (size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    Values fused_keys = cases[c].keys;
    fused_keys.push_back({"atac.actor_lr", "1e-3"});
    fused_keys.push_back({"atac.threads", "1"});
    Values autograd_keys = fused_keys;
    autograd_keys.push_back({"atac.fused", "false"});
    const int64_t hidden = cases[c].hidden;
    auto fused = make_atac(5, 3, hidden, fused_keys, 10, cases[c].reward_min, cases[c].reward_max);
    auto autograd = make_atac(5, 3, hidden, autograd_keys, 10, cases[c].reward_min, cases[c].reward_max);
    const auto pf = stepped_parameters(*fused), pa = stepped_parameters(*autograd);
    ASSERT_EQ(pf.size(), pa.size());
    for (size_t i = 0; i < pf.size(); ++i) ASSERT_TRUE(torch::equal(pf[i].second, pa[i].second)) << pf[i].first;
    at::Generator gf = at::detail::createCPUGenerator(11), ga = gf.clone();
    for (int64_t step = 1; step <= 4; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      std::vector<at::Tensor> before_f, before_a;
      for (size_t i = 0; i < pf.size(); ++i) {
        before_f.push_back(pf[i].second.detach().clone());
        before_a.push_back(pa[i].second.detach().clone());
      }
      const Transitions b = batch_of(64, 5, 3, 20 + step);
      fused->update(b, step, gf);
      autograd->update(b, step, ga);
      if (step <= cases[c].warmup_steps) continue;
      for (size_t i = 0; i < pf.size(); ++i) {
        const std::string& name = pf[i].first;
        ASSERT_TRUE(pa[i].second.grad().defined()) << name;
        ASSERT_TRUE(pf[i].second.grad().defined()) << name;
        EXPECT_LT(relative_error(pf[i].second.grad(), pa[i].second.grad()), 1e-4) << name << " gradient";
        EXPECT_GT(pa[i].second.grad().abs().max().item<double>(), 0.0) << name << " gradient";
        const at::Tensor change_f = pf[i].second.detach() - before_f[i], change_a = pa[i].second.detach() - before_a[i];
        EXPECT_LT(relative_error(change_f, change_a), 1e-4) << name << " change";
        EXPECT_GT(change_a.abs().max().item<double>(), 0.0) << name << " change";
      }
      const auto tf = fused->continuous_q_target->parameters(), ta = autograd->continuous_q_target->parameters();
      for (size_t i = 0; i < tf.size(); ++i) EXPECT_LT(relative_error(tf[i], ta[i]), 1e-6) << "target " << i;
    }
  }
}

}  // namespace
}  // namespace shardlab
