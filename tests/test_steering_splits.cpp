// The held-out design of steering-compare (issue 30) on synthetic activations where the answer is
// known: a planted direction is recovered from the fit split and beats the random null on the
// test split; a direction cannot be scored on the mazes it was fitted or tuned on; the splits are
// disjoint and deterministic; alpha depends on the validation split only; bad flags are one line.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/steering_compare.h"
#include "analysis/steering_splits.h"
#include "core/error.h"
#include "core/text.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

// A toy network with one planted direction u in (8, 4, 4) activations: with the cheese, maze i's
// activation is noise_i + 2 u, without it noise_i + a small independent noise; at the decision
// square other noise + 2 u; and P(cheese | d.s.) = sigmoid(gain_i u . (x + shift)), P(top-right) its
// complement. Only a shift along u moves the policy.
struct Planted {
  SteeringProblem problem;
  at::Tensor u;
  at::Tensor gain;  // per maze
};

void set_goal_probs(Planted* p) {
  const at::Tensor at_square = p->problem.at_square, u = p->u, gain = p->gain;
  p->problem.goal_probs = [at_square, u, gain](const std::vector<int64_t>& mazes, const at::Tensor& shift) {
    GoalProbs g;
    for (size_t i = 0; i < mazes.size(); ++i) {
      at::Tensor x = at_square[mazes[i]];
      if (shift.defined()) x = x + (shift.dim() == x.dim() ? shift : shift[static_cast<int64_t>(i)]);
      const double z = gain[mazes[i]].item<double>() * (x * u).sum().item<double>();
      g.cheese.push_back(1 / (1 + std::exp(-z)));
      g.top_right.push_back(1 - g.cheese.back());
    }
    return g;
  };
}

Planted planted(int64_t n, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  Planted p;
  const at::Tensor d = at::normal(0.0, 1.0, {8, 4, 4}, gen);
  p.u = d / d.norm();
  const at::Tensor noise = at::normal(0.0, 1.0, {n, 8, 4, 4}, gen);
  p.problem.with_cheese = noise + 2 * p.u;
  p.problem.without_cheese = noise + at::normal(0.0, 0.3, {n, 8, 4, 4}, gen);
  // The mouse stands elsewhere at the decision square: the same cheese, other activations. (Were
  // they the probe's own training rows, the sd along the probe would be its margin, near 0.)
  p.problem.at_square = at::normal(0.0, 1.0, {n, 8, 4, 4}, gen) + 2 * p.u;
  for (int64_t i = 0; i < n; ++i) p.problem.level_seeds.push_back(static_cast<uint32_t>(100 + i));
  p.gain = torch::ones({n}, torch::kDouble);
  set_goal_probs(&p);
  return p;
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
  return (a * b).sum().item<double>() / (a.norm().item<double>() * b.norm().item<double>());
}

SteeringDesignOptions options() {
  SteeringDesignOptions o;
  o.seed = 5;
  o.bootstrap_draws = 500;
  return o;
}

TEST(SteeringSplits, PlantedDirectionIsFoundOnTheFitSplitAndBeatsTheNullOnTheTestSplit) {
  const Planted p = planted(50, 1);
  const SteeringDesign d = run_steering_design(p.problem, options());
  ASSERT_EQ(d.splits.test.mazes.size(), 20u);
  ASSERT_EQ(d.methods.size(), 3u);
  ASSERT_EQ(d.random.size(), 20u);
  const FitSplit& fit = d.splits.fit;
  EXPECT_GT(cosine(mean_difference_direction(p.problem, fit).unit, p.u), 0.9);
  EXPECT_GT(cosine(probe_direction(p.problem, fit).unit, p.u), 0.8);
  EXPECT_GT(cosine(one_pair_direction(p.problem, fit).unit, p.u), 0.3);
  // sd along u is the noise's, 1: the scale is measured, not assumed.
  EXPECT_NEAR(mean_difference_direction(p.problem, fit).sd, 1.0, 0.4);
  for (const auto& m : d.methods) {
    EXPECT_LT(m.mean_effect, -0.3) << m.method;
    EXPECT_LT(m.mean_effect, d.null_range95.lo) << m.method;
    EXPECT_LT(m.mean_effect_ci95.hi, 0) << m.method;
    EXPECT_NEAR(m.p_empirical_vs_null, 1.0 / 21, 1e-12) << m.method;
  }
  EXPECT_GT(d.null_mean_effect, -0.15);
  // Every method against the null is significant after Holm; the table has 3 pairs + 3 nulls.
  ASSERT_EQ(d.comparisons.size(), 6u);
  for (const auto& c : d.comparisons)
    if (c.b == "random_null") {
      EXPECT_TRUE(c.significant()) << c.a << " p_holm " << c.p_holm;
      EXPECT_LT(c.ci95.hi, 0) << c.a;
    }
  for (const auto& c : d.comparisons) EXPECT_GE(c.p_holm, c.p);
  // The oracle (each maze's own pair) is reported apart, in no comparison.
  EXPECT_LT(d.per_maze_oracle.mean_effect, 0);
  for (const auto& c : d.comparisons) EXPECT_NE(c.a, "per_maze_oracle");
  // Same options, same numbers.
  const SteeringDesign again = run_steering_design(p.problem, options());
  for (size_t i = 0; i < d.comparisons.size(); ++i) {
    EXPECT_EQ(d.comparisons[i].p, again.comparisons[i].p);
    EXPECT_EQ(d.comparisons[i].ci95.lo, again.comparisons[i].ci95.lo);
  }
}

TEST(SteeringSplits, ADirectionIsRefusedOnTheMazesItWasFittedOrTunedOn) {
  const Planted p = planted(30, 2);
  const MazeSplits s = split_mazes(p.problem.size(), {}, 3);
  const SteeringDirection probe = probe_direction(p.problem, s.fit);
  EXPECT_EQ(probe.fitted_on, s.fit.mazes);
  const TunedDirection tuned = choose_alpha(p.problem, probe, s.validation, {1, 2});
  EXPECT_EQ(score_on_test(p.problem, tuned, s.test).cheese.size(), s.test.mazes.size());
  try {
    score_on_test(p.problem, tuned, TestSplit{s.fit.mazes});
    ADD_FAILURE() << "a probe scored on its own fit mazes";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("'probe' was fitted on"), std::string::npos) << e.what();
  }
  // One shared maze is enough to refuse; so is a maze its alpha was chosen on.
  EXPECT_THROW(score_on_test(p.problem, tuned, TestSplit{{s.test.mazes[0], s.fit.mazes[0]}}), std::logic_error);
  EXPECT_THROW(score_on_test(p.problem, tuned, TestSplit{s.validation.mazes}), std::logic_error);
  EXPECT_THROW(choose_alpha(p.problem, probe, ValidationSplit{s.fit.mazes}, {1}), std::logic_error);
}

TEST(SteeringSplits, SplitsAreDisjointDeterministicAndRefuseBadFractions) {
  const MazeSplits s = split_mazes(50, {}, 7);
  EXPECT_EQ(s.fit.mazes.size(), 20u);
  EXPECT_EQ(s.validation.mazes.size(), 10u);
  EXPECT_EQ(s.test.mazes.size(), 20u);
  std::set<int64_t> all;
  for (const auto* m : {&s.fit.mazes, &s.validation.mazes, &s.test.mazes}) {
    EXPECT_TRUE(std::is_sorted(m->begin(), m->end()));
    all.insert(m->begin(), m->end());
  }
  EXPECT_EQ(all.size(), 50u);  // disjoint, and together every maze
  EXPECT_EQ(split_mazes(50, {}, 7).test.mazes, s.test.mazes);
  EXPECT_NE(split_mazes(50, {}, 8).test.mazes, s.test.mazes);
  const MazeSplits part = split_mazes(50, {0.3, 0.2, 0.3}, 7);
  EXPECT_EQ(part.fit.mazes.size() + part.validation.mazes.size() + part.test.mazes.size(), 40u);
  const auto one_line = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error for " << needle;
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  one_line([] { split_mazes(50, {0.7, 0.2, 0.4}, 0); }, "sum to 1.3");
  one_line([] { split_mazes(50, {-0.1, 0.2, 0.4}, 0); }, "--fit-fraction -0.1: expected a fraction in [0, 1]");
  one_line([] { split_mazes(50, {0.4, 0.2, std::nan("")}, 0); }, "--test-fraction nan");
  one_line([] { split_mazes(10, {}, 0); }, "10 mazes with a decision square make splits of 4 fit, 2 validation and 4");
}

TEST(SteeringSplits, AlphaAndDirectionsDependOnTheFitAndValidationSplitsOnly) {
  const Planted p = planted(40, 4);
  const SteeringDesign d = run_steering_design(p.problem, options());
  const auto alphas = [](const SteeringDesign& x) {
    std::vector<double> out;
    for (const auto* list : {&x.methods, &x.random})
      for (const auto& m : *list) out.push_back(m.alpha);
    return out;
  };
  // Every test maze's activations and behaviour replaced: the directions, their scales and their
  // alphas stay; only the test scores move.
  Planted other = p;
  const at::Tensor test = torch::tensor(d.splits.test.mazes, torch::kInt64);
  at::Generator gen = at::detail::createCPUGenerator(9);
  for (at::Tensor* t : {&other.problem.with_cheese, &other.problem.without_cheese, &other.problem.at_square})
    *t = t->index_copy(0, test, at::normal(0.0, 3.0, t->sizes(), gen).index_select(0, test));
  other.gain = other.gain.index_fill(0, test, -1.0);
  set_goal_probs(&other);
  const SteeringDesign changed = run_steering_design(other.problem, options());
  EXPECT_EQ(alphas(changed), alphas(d));
  for (size_t i = 0; i < d.methods.size(); ++i) {
    EXPECT_EQ(changed.methods[i].sd, d.methods[i].sd);
    EXPECT_EQ(changed.methods[i].validation_mean_effect, d.methods[i].validation_mean_effect);
    EXPECT_NE(changed.methods[i].mean_effect, d.methods[i].mean_effect);
  }
  // The validation mazes' behaviour reversed: now the smallest alpha drops P(cheese) the most, so
  // the check above could fail.
  Planted reversed = p;
  reversed.gain = reversed.gain.index_fill(0, torch::tensor(d.splits.validation.mazes, torch::kInt64), -1.0);
  set_goal_probs(&reversed);
  const SteeringDesign flipped = run_steering_design(reversed.problem, options());
  EXPECT_EQ(d.methods[1].alpha, 8);
  EXPECT_EQ(flipped.methods[1].alpha, 0.5);
}

TEST(SteeringCompare, HeldOutCommandWritesItsFilesAndRefusesBadFlags) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  auto r = test::run_cli("analyze steering-compare " + ckpt + " --seeds 0:80 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mean_difference vs probe: mean difference"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("probe vs random_null"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("significant after Holm correction"), std::string::npos) << r.out;
  const std::string csv = read_text_file(dir + "/a/steering_compare.csv");
  EXPECT_EQ(csv.rfind("level_seed,method,alpha,sd_along_direction,", 0), 0u);
  for (const std::string method : {",one_pair,", ",mean_difference,", ",probe,", ",random_19,", ",per_maze_oracle,"})
    EXPECT_NE(csv.find(method), std::string::npos) << method;
  const std::string json = read_text_file(dir + "/a/steering_compare.json");
  for (const std::string key :
       {"\"test_level_seeds\"", "\"validation_level_seeds\"", "\"fit_level_seeds\"", "\"mean_effect_ci95\"",
        "\"p_holm\"", "\"mean_difference_ci95\"", "\"alpha\"", "\"random_null\"", "\"in_no_split\""})
    EXPECT_NE(json.find(key), std::string::npos) << key;
  EXPECT_NE(read_text_file(dir + "/a/steering_compare.svg").find("held-out test mazes"), std::string::npos);
  const std::string base = "analyze steering-compare " + ckpt + " --seeds 0:80 --out " + dir + "/b ";
  test::expect_one_line_error(test::run_cli(base + "--fit-fraction 0.7"), "sum to 1.3");
  test::expect_one_line_error(test::run_cli(base + "--random-draws 5"), "--random-draws 5: expected at least 20");
  test::expect_one_line_error(test::run_cli(base + "--alphas 1,x"), "'x' is not a number");
  test::expect_one_line_error(test::run_cli("analyze steering-compare " + ckpt + " --seeds 0:4 --out " + dir + "/c"),
                              "make splits of");
}

}  // namespace
}  // namespace shardlab::analysis
