#include "analysis/steering_splits.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "analysis/steering_compare.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {
namespace {

// Independent random streams of one --seed (core/rng.h's mix_seed).
constexpr uint64_t kSplitStream = 0, kBootstrapStream = 1, kRandomDirectionStreams = 100;

at::Tensor index_of(const std::vector<int64_t>& mazes) { return torch::tensor(mazes, torch::kInt64); }

at::Tensor rows(const at::Tensor& t, const std::vector<int64_t>& mazes) { return t.index_select(0, index_of(mazes)); }

// `v` scaled to unit norm; zero stays zero (a fit that found nothing steers nowhere).
at::Tensor unit_of(const at::Tensor& v) {
  const double norm = v.norm().item<double>();
  return norm > 0 ? v / norm : torch::zeros_like(v);
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
  const double na = a.norm().item<double>(), nb = b.norm().item<double>();
  return na > 0 && nb > 0 ? (a * b).sum().item<double>() / (na * nb) : std::nan("");
}

// The direction with its scale: the sample standard deviation of the fit mazes' decision-square
// activations projected on it.
SteeringDirection direction_on(const SteeringProblem& problem, const FitSplit& fit, const std::string& method,
                               const at::Tensor& v) {
  SteeringDirection d;
  d.method = method;
  d.unit = unit_of(v.to(at::kFloat));
  d.fitted_on = fit.mazes;
  const at::Tensor projections =
      at::matmul(rows(problem.at_square, fit.mazes).flatten(1).to(at::kDouble), d.unit.flatten().to(at::kDouble));
  d.sd = projections.size(0) > 1 ? projections.std().item<double>() : 0.0;
  return d;
}

at::Tensor contrast(const SteeringProblem& problem, const std::vector<int64_t>& mazes) {
  return rows(problem.with_cheese, mazes) - rows(problem.without_cheese, mazes);
}

// Throws when `mazes` and `used` share a maze: the study would score a direction on a maze that
// already served it.
void refuse_overlap(const std::vector<int64_t>& mazes, const std::vector<int64_t>& used, const std::string& method,
                    const std::string& role, const std::string& earlier) {
  for (int64_t m : mazes)
    if (std::find(used.begin(), used.end(), m) != used.end())
      throw std::logic_error("steering-compare: " + role + " maze " + std::to_string(m) + " is one the direction '" +
                             method + "' was " + earlier + ": refused, its score would not be held out");
}

// A number as a message shows it ("nan" included, which csv_number leaves empty).
std::string shown_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

std::vector<double> minus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

}  // namespace

// ---- splits

void check_split_fractions(const SplitFractions& f) {
  const std::vector<std::pair<std::string, double>> named = {
      {"--fit-fraction", f.fit}, {"--validation-fraction", f.validation}, {"--test-fraction", f.test}};
  for (const auto& [flag, value] : named)
    if (!(value >= 0 && value <= 1))
      throw InputError(flag + " " + shown_number(value) + ": expected a fraction in [0, 1]");
  const double total = f.fit + f.validation + f.test;
  if (total > 1 + 1e-9)
    throw InputError("--fit-fraction, --validation-fraction and --test-fraction sum to " + shown_number(total) +
                     ": they must sum to at most 1 (the splits are disjoint)");
}

MazeSplits split_mazes(int64_t n, const SplitFractions& f, uint64_t seed) {
  check_split_fractions(f);
  const double total = f.fit + f.validation + f.test;
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(mix_seed(seed, kSplitStream));
  rng.shuffle(order);
  const auto end_at = [&](double fraction) {
    return std::min<int64_t>(n, static_cast<int64_t>(std::llround(fraction * static_cast<double>(n))));
  };
  const int64_t fit_end = end_at(f.fit), validation_end = end_at(f.fit + f.validation), test_end = end_at(total);
  MazeSplits s;
  s.fit.mazes.assign(order.begin(), order.begin() + fit_end);
  s.validation.mazes.assign(order.begin() + fit_end, order.begin() + validation_end);
  s.test.mazes.assign(order.begin() + validation_end, order.begin() + test_end);
  for (auto* m : {&s.fit.mazes, &s.validation.mazes, &s.test.mazes}) std::sort(m->begin(), m->end());
  const auto size = [](const std::vector<int64_t>& v) { return static_cast<int64_t>(v.size()); };
  if (size(s.fit.mazes) < kMinFitMazes || size(s.validation.mazes) < kMinValidationMazes ||
      size(s.test.mazes) < kMinTestMazes)
    throw InputError("steering-compare: " + std::to_string(n) + " mazes with a decision square make splits of " +
                     std::to_string(s.fit.mazes.size()) + " fit, " + std::to_string(s.validation.mazes.size()) +
                     " validation and " + std::to_string(s.test.mazes.size()) + " test mazes; they need at least " +
                     std::to_string(kMinFitMazes) + ", " + std::to_string(kMinValidationMazes) + " and " +
                     std::to_string(kMinTestMazes) + " (widen --seeds or change the fractions)");
  return s;
}

// ---- directions

SteeringDirection one_pair_direction(const SteeringProblem& problem, const FitSplit& fit) {
  torch::NoGradGuard no_grad;
  const at::Tensor pairs = contrast(problem, fit.mazes);
  const at::Tensor norms = pairs.flatten(1).norm(2, {1}).to(at::kDouble);
  std::vector<int64_t> order(fit.mazes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return norms[a].item<double>() < norms[b].item<double>();  // stable: ties keep the maze order
  });
  const int64_t median_at = order[(order.size() - 1) / 2];
  SteeringDirection d = direction_on(problem, fit, "one_pair", pairs[median_at]);
  d.pair_maze = fit.mazes[static_cast<size_t>(median_at)];
  return d;
}

SteeringDirection mean_difference_direction(const SteeringProblem& problem, const FitSplit& fit) {
  torch::NoGradGuard no_grad;
  return direction_on(problem, fit, "mean_difference", contrast(problem, fit.mazes).mean(0));
}

SteeringDirection probe_direction(const SteeringProblem& problem, const FitSplit& fit, LinearProbe* probe) {
  const int64_t k = static_cast<int64_t>(fit.mazes.size());
  const at::Tensor x = at::cat({rows(problem.with_cheese, fit.mazes), rows(problem.without_cheese, fit.mazes)});
  const at::Tensor labels = at::cat({torch::ones({k}), torch::zeros({k})});
  const LinearProbe fitted = fit_linear_probe(x, labels);
  if (probe) *probe = fitted;
  torch::NoGradGuard no_grad;
  return direction_on(problem, fit, "probe", fitted.weight);
}

SteeringDirection random_direction(const SteeringProblem& problem, const FitSplit& fit, uint64_t seed, int64_t draw) {
  torch::NoGradGuard no_grad;
  at::Generator gen =
      at::detail::createCPUGenerator(mix_seed(seed, kRandomDirectionStreams + static_cast<uint64_t>(draw)));
  const auto shape = problem.with_cheese.sizes().slice(1);
  const at::Tensor v = at::normal(0.0, 1.0, shape, gen, problem.with_cheese.options().dtype(at::kFloat));
  return direction_on(problem, fit, "random_" + std::to_string(draw), v);
}

at::Tensor steering_shift(const SteeringDirection& direction, double alpha) {
  return direction.unit * (-alpha * direction.sd);
}

// ---- alpha and scoring

TunedDirection choose_alpha(const SteeringProblem& problem, const SteeringDirection& direction,
                            const ValidationSplit& validation, const std::vector<double>& alphas) {
  refuse_overlap(validation.mazes, direction.fitted_on, direction.method, "validation", "fitted on");
  if (alphas.empty()) throw std::logic_error("choose_alpha: no alphas");
  TunedDirection t;
  t.direction = direction;
  t.alphas = alphas;
  t.alpha_chosen_on = validation.mazes;
  const std::vector<double> unsteered = problem.goal_probs(validation.mazes, at::Tensor()).cheese;
  double best = 0;
  for (size_t i = 0; i < alphas.size(); ++i) {
    const auto steered = problem.goal_probs(validation.mazes, steering_shift(direction, alphas[i])).cheese;
    const double mean = finite_mean(minus(steered, unsteered));
    t.validation_mean_effect.push_back(mean);
    if (i == 0 || mean < best) {  // strictly lower: ties keep the smaller-index alpha
      best = mean;
      t.alpha = alphas[i];
    }
  }
  return t;
}

MazeEffects score_on_test(const SteeringProblem& problem, const TunedDirection& tuned, const TestSplit& test) {
  const std::string& method = tuned.direction.method;
  refuse_overlap(test.mazes, tuned.direction.fitted_on, method, "test", "fitted on");
  refuse_overlap(test.mazes, tuned.alpha_chosen_on, method, "test", "given its alpha on");
  const GoalProbs unsteered = problem.goal_probs(test.mazes, at::Tensor());
  const GoalProbs steered = problem.goal_probs(test.mazes, steering_shift(tuned.direction, tuned.alpha));
  return {minus(steered.cheese, unsteered.cheese), minus(steered.top_right, unsteered.top_right)};
}

// ---- the whole design

namespace {

MethodScore score_method(const SteeringProblem& problem, const SteeringDirection& direction, const MazeSplits& splits,
                         const SteeringDesignOptions& o) {
  const TunedDirection tuned = choose_alpha(problem, direction, splits.validation, o.alphas);
  MethodScore m;
  m.method = direction.method;
  m.sd = direction.sd;
  m.alpha = tuned.alpha;
  m.validation_mean_effect = tuned.validation_mean_effect;
  m.effect = score_on_test(problem, tuned, splits.test);
  return m;
}

// The per-maze oracle: each test maze's own cheese vector, so it is fitted on the maze it is
// scored on; kept apart from the methods (and their guards) and out of every comparison.
MethodScore per_maze_oracle(const SteeringProblem& problem, const TestSplit& test) {
  MethodScore m;
  m.method = "per_maze_oracle";
  m.alpha = std::nan("");
  m.sd = std::nan("");
  const GoalProbs unsteered = problem.goal_probs(test.mazes, at::Tensor());
  const GoalProbs steered = problem.goal_probs(test.mazes, -contrast(problem, test.mazes));
  m.effect = {minus(steered.cheese, unsteered.cheese), minus(steered.top_right, unsteered.top_right)};
  return m;
}

void summarise(MethodScore* m, const std::vector<double>& null_means, uint64_t bootstrap_seed, int draws) {
  m->mean_effect = finite_mean(m->effect.cheese);
  m->mean_effect_top_right = finite_mean(m->effect.top_right);
  m->mean_effect_ci95 = bootstrap_mean_interval(m->effect.cheese, draws, bootstrap_seed);
  if (!null_means.empty()) m->p_empirical_vs_null = empirical_p_less(m->mean_effect, null_means);
}

PairedComparison compare(const std::string& a, const std::string& b, const std::vector<double>& diffs,
                         uint64_t bootstrap_seed, int draws) {
  PairedComparison c;
  c.a = a;
  c.b = b;
  c.mean_difference = finite_mean(diffs);
  c.ci95 = bootstrap_mean_interval(diffs, draws, bootstrap_seed);
  c.p = wilcoxon_signed_rank_p(diffs);
  return c;
}

void check_options(const SteeringDesignOptions& o) {
  if (o.alphas.empty()) throw InputError("--alphas: expected A1,A2,...");
  for (double a : o.alphas)
    if (!std::isfinite(a)) throw InputError("--alphas: " + shown_number(a) + " is not finite");
  if (o.random_draws < 1) throw InputError("--random-draws: at least 1");
  if (o.bootstrap_draws < 1) throw std::logic_error("steering design: bootstrap_draws must be positive");
}

}  // namespace

SteeringDesign run_steering_design(const SteeringProblem& problem, const SteeringDesignOptions& o) {
  torch::NoGradGuard no_grad;
  check_options(o);
  SteeringDesign d;
  d.options = o;
  d.splits = split_mazes(problem.size(), o.fractions, o.seed);
  d.level_seeds = problem.level_seeds;
  d.test_unsteered = problem.goal_probs(d.splits.test.mazes, at::Tensor());
  const FitSplit& fit = d.splits.fit;

  LinearProbe probe;
  const std::vector<SteeringDirection> fitted = {
      one_pair_direction(problem, fit), mean_difference_direction(problem, fit), probe_direction(problem, fit, &probe)};
  d.one_pair_seed = problem.level_seeds[static_cast<size_t>(fitted[0].pair_maze)];
  d.probe_fit_accuracy = probe.train_accuracy;
  const int64_t k = static_cast<int64_t>(d.splits.test.mazes.size());
  d.probe_test_accuracy = probe_accuracy(
      probe,
      at::cat({rows(problem.with_cheese, d.splits.test.mazes), rows(problem.without_cheese, d.splits.test.mazes)}),
      at::cat({torch::ones({k}), torch::zeros({k})}));
  d.cosine_mean_difference_probe = cosine(fitted[1].unit, fitted[2].unit);
  d.cosine_one_pair_mean_difference = cosine(fitted[0].unit, fitted[1].unit);

  const int64_t total = static_cast<int64_t>(fitted.size()) + o.random_draws;
  Progress progress("steering-compare");
  for (const auto& direction : fitted) {
    progress.update(static_cast<int64_t>(d.methods.size()), total, "directions");
    d.methods.push_back(score_method(problem, direction, d.splits, o));
  }
  for (int64_t draw = 0; draw < o.random_draws; ++draw) {
    progress.update(static_cast<int64_t>(fitted.size()) + draw, total, "directions");
    d.random.push_back(score_method(problem, random_direction(problem, fit, o.seed, draw), d.splits, o));
  }
  progress.settle(total, total, "directions");
  d.per_maze_oracle = per_maze_oracle(problem, d.splits.test);

  const uint64_t bootstrap_seed = mix_seed(o.seed, kBootstrapStream);
  std::vector<double> null_means;
  d.null_effect.assign(static_cast<size_t>(k), 0.0);
  for (auto& r : d.random) {
    summarise(&r, {}, bootstrap_seed, o.bootstrap_draws);
    null_means.push_back(r.mean_effect);
    for (int64_t i = 0; i < k; ++i) d.null_effect[i] += r.effect.cheese[i] / static_cast<double>(d.random.size());
  }
  d.null_mean_effect = finite_mean(null_means);
  d.null_range95 = {quantile(null_means, 0.025), quantile(null_means, 0.975)};
  for (auto& m : d.methods) summarise(&m, null_means, bootstrap_seed, o.bootstrap_draws);
  summarise(&d.per_maze_oracle, {}, bootstrap_seed, o.bootstrap_draws);

  for (size_t i = 0; i < d.methods.size(); ++i)
    for (size_t j = i + 1; j < d.methods.size(); ++j)
      d.comparisons.push_back(compare(d.methods[i].method, d.methods[j].method,
                                      minus(d.methods[i].effect.cheese, d.methods[j].effect.cheese), bootstrap_seed,
                                      o.bootstrap_draws));
  for (const auto& m : d.methods)
    d.comparisons.push_back(
        compare(m.method, "random_null", minus(m.effect.cheese, d.null_effect), bootstrap_seed, o.bootstrap_draws));
  std::vector<double> p;
  for (const auto& c : d.comparisons) p.push_back(c.p);
  const std::vector<double> adjusted = holm_adjusted(p);
  for (size_t i = 0; i < d.comparisons.size(); ++i) d.comparisons[i].p_holm = adjusted[i];
  return d;
}

}  // namespace shardlab::analysis
