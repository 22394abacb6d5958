#include "analysis/steering_compare.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/statistics.h"
#include "core/text.h"
#include "media/line_chart.h"

namespace shardlab::analysis {
namespace {

constexpr int64_t kMazesPerForward = 256;  // mazes per forward pass

std::vector<MazeLayout> without_cheese_all(const std::vector<MazeLayout>& mazes) {
  std::vector<MazeLayout> out;
  for (const auto& m : mazes) out.push_back(without_cheese(m));
  return out;
}

// Activations of `layer` (mazes, ...) with the mouse at each maze's start, in chunks.
at::Tensor activations_at_start(const MazePolicy& policy, const std::string& layer,
                                const std::vector<MazeLayout>& mazes) {
  std::vector<at::Tensor> parts;
  for (size_t begin = 0; begin < mazes.size(); begin += kMazesPerForward) {
    const size_t end = std::min(mazes.size(), begin + kMazesPerForward);
    const std::vector<MazeLayout> chunk(mazes.begin() + begin, mazes.begin() + end);
    parts.push_back(policy.activations(at_start(chunk), layer));
  }
  return at::cat(parts);
}

// The move probabilities (mazes, 5) at each maze's decision square, with `delta` (mazes, ...)
// added at `layer` (no patch when `delta` is undefined).
at::Tensor probs_at_squares(const MazePolicy& policy, const DecisionSquareMazes& sm, const std::string& layer,
                            const at::Tensor& delta) {
  std::vector<at::Tensor> parts;
  const int64_t n = static_cast<int64_t>(sm.mazes.size());
  for (int64_t begin = 0; begin < n; begin += kMazesPerForward) {
    const int64_t end = std::min(n, begin + kMazesPerForward);
    std::vector<MazeInput> inputs;
    for (int64_t i = begin; i < end; ++i) inputs.push_back({sm.mazes[i], sm.squares[i].cell});
    ActivationTaps taps;
    if (delta.defined()) {
      const at::Tensor d = delta.slice(0, begin, end);
      taps.add_patch(layer, [d](const at::Tensor& x) { return x + d.to(x.dtype()); });
    }
    parts.push_back(policy.forward(inputs, &taps).probs);
  }
  return at::cat(parts);
}

// Per-maze P(cheese move) and P(top-right move) from (mazes, 5) probabilities.
std::pair<std::vector<double>, std::vector<double>> goal_probs(const DecisionSquareMazes& sm, const at::Tensor& probs) {
  const auto p = probs.accessor<float, 2>();
  std::vector<double> cheese, top_right;
  for (size_t i = 0; i < sm.mazes.size(); ++i) {
    cheese.push_back(p[i][sm.squares[i].cheese_move]);
    top_right.push_back(p[i][sm.squares[i].top_right_move]);
  }
  return {cheese, top_right};
}

}  // namespace

// ---- probe

LinearProbe fit_linear_probe(const at::Tensor& x, const at::Tensor& labels, double l2) {
  torch::NoGradGuard outer;
  const at::Tensor flat = x.flatten(1).to(at::kDouble);
  const at::Tensor y = labels.to(at::kDouble);
  const at::Tensor mean = flat.mean(0);
  const at::Tensor centred = flat - mean;
  at::Tensor w = torch::zeros({flat.size(1)}, flat.options()).requires_grad_(true);
  at::Tensor b = torch::zeros({1}, flat.options()).requires_grad_(true);
  torch::optim::LBFGS optimizer({w, b}, torch::optim::LBFGSOptions(1.0).max_iter(500).line_search_fn("strong_wolfe"));
  const auto closure = [&] {
    torch::AutoGradMode enable(true);
    optimizer.zero_grad();
    const at::Tensor logits = at::matmul(centred, w) + b;
    at::Tensor loss = torch::binary_cross_entropy_with_logits(logits, y) + l2 * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  optimizer.step(closure);
  LinearProbe probe;
  std::vector<int64_t> shape(x.sizes().begin() + 1, x.sizes().end());
  probe.weight = w.detach().to(at::kFloat).reshape(shape);
  probe.mean = mean.to(at::kFloat).reshape(shape);
  probe.bias = b.item<double>();
  probe.train_accuracy = probe_accuracy(probe, x, labels);
  return probe;
}

double probe_accuracy(const LinearProbe& probe, const at::Tensor& x, const at::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const at::Tensor logits =
      at::matmul((x.flatten(1) - probe.mean.flatten()).to(at::kDouble), probe.weight.flatten().to(at::kDouble)) +
      probe.bias;
  const at::Tensor predicted = (logits > 0).to(at::kDouble);
  return (predicted == labels.to(at::kDouble)).to(at::kDouble).mean().item<double>();
}

// ---- mazes and vectors

at::Tensor per_maze_cheese_vectors(const MazePolicy& policy, const std::string& layer,
                                   const std::vector<MazeLayout>& mazes) {
  return activations_at_start(policy, layer, mazes) - activations_at_start(policy, layer, without_cheese_all(mazes));
}

// ---- the comparison

SteeringProblem steering_problem(const MazePolicy& policy, const std::string& layer, const DecisionSquareMazes& sm) {
  torch::NoGradGuard no_grad;
  SteeringProblem problem;
  std::vector<MazeInput> at_squares;
  for (size_t i = 0; i < sm.mazes.size(); ++i) {
    problem.level_seeds.push_back(sm.mazes[i].level_seed);
    at_squares.push_back({sm.mazes[i], sm.squares[i].cell});
  }
  problem.with_cheese = activations_at_start(policy, layer, sm.mazes);
  problem.without_cheese = activations_at_start(policy, layer, without_cheese_all(sm.mazes));
  problem.at_square = policy.activations(at_squares, layer);
  const int64_t activation_dims = problem.with_cheese.dim() - 1;
  problem.goal_probs = [&policy, layer, sm, activation_dims](const std::vector<int64_t>& mazes,
                                                             const at::Tensor& shift) {
    DecisionSquareMazes some;
    for (int64_t m : mazes) {
      some.mazes.push_back(sm.mazes[static_cast<size_t>(m)]);
      some.squares.push_back(sm.squares[static_cast<size_t>(m)]);
    }
    const int64_t k = static_cast<int64_t>(mazes.size());
    at::Tensor per_maze;  // probs_at_squares adds one shift per maze
    if (shift.defined()) {
      std::vector<int64_t> sizes = {k};
      sizes.insert(sizes.end(), shift.sizes().begin(), shift.sizes().end());
      per_maze = shift.dim() == activation_dims ? shift.unsqueeze(0).expand(sizes) : shift;
    }
    const auto [cheese, top_right] = goal_probs(some, probs_at_squares(policy, some, layer, per_maze));
    return GoalProbs{cheese, top_right};
  };
  return problem;
}

SteeringComparison compare_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                    const SteeringCompareOptions& options) {
  policy.layer_shape(options.layer);  // checks the name
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  SteeringComparison c;
  c.layer = options.layer;
  c.mazes = static_cast<int64_t>(sm.mazes.size());
  c.left_out = sm.left_out;
  // The splits' sizes are known from the count alone: too few mazes fail before any forward pass.
  split_mazes(c.mazes, options.design.fractions, options.design.seed);
  c.design = run_steering_design(steering_problem(policy, options.layer, sm), options.design);
  return c;
}

}  // namespace shardlab::analysis
