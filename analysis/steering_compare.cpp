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

constexpr int64_t kChunk = 256;  // mazes per forward pass

std::vector<MazeLayout> without_cheese_all(const std::vector<MazeLayout>& mazes) {
  std::vector<MazeLayout> out;
  for (const auto& m : mazes) out.push_back(without_cheese(m));
  return out;
}

// Activations of `layer` (mazes, ...) with the mouse at each maze's start, in chunks.
at::Tensor activations_at_start(const MazePolicy& policy, const std::string& layer,
                                const std::vector<MazeLayout>& mazes) {
  std::vector<at::Tensor> parts;
  for (size_t begin = 0; begin < mazes.size(); begin += kChunk) {
    const size_t end = std::min(mazes.size(), begin + kChunk);
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
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = std::min(n, begin + kChunk);
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

// Rows scaled to unit norm (a zero row stays zero).
at::Tensor unit_rows(const at::Tensor& v) {
  const at::Tensor norms = v.flatten(1).norm(2, {1}).clamp_min(1e-12);
  std::vector<int64_t> shape(v.dim(), 1);
  shape[0] = v.size(0);
  return v / norms.reshape(shape);
}

// Gaussian directions of unit norm, one per row of `like`.
at::Tensor random_unit_rows(const at::Tensor& like, at::Generator& gen) {
  return unit_rows(at::normal(0.0, 1.0, like.sizes(), gen, like.options()));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
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

// ---- the layer sweep

std::vector<std::string> sweep_layers(const MazePolicy& policy, bool all) {
  std::vector<std::string> out;
  for (const auto& layer : policy.layers()) {
    if (layer == "fc_value_out") continue;  // the policy does not read it
    const bool main = ends_with(layer, ".conv_out") || ends_with(layer, ".maxpool_out") ||
                      ends_with(layer, ".resadd_out") || layer.rfind("embedder.block", 0) != 0;
    if (all || main) out.push_back(layer);
  }
  return out;
}

LayerSweep sweep_steering_layers(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                 const std::vector<std::string>& layers, double coeff, uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (const auto& layer : layers) policy.layer_shape(layer);  // checks every name first
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  if (sm.mazes.empty()) throw InputError("layer-sweep: no maze with a decision square among the seeds");
  LayerSweep s;
  s.coeff = coeff;
  s.mazes = static_cast<int64_t>(sm.mazes.size());
  s.left_out = sm.left_out;
  const auto plain = goal_probs(sm, probs_at_squares(policy, sm, layers.front(), at::Tensor())).first;
  s.median_p_cheese = median(plain);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto all_names = policy.layers();
  Progress progress("layer-sweep");
  for (size_t li = 0; li < layers.size(); ++li) {
    progress.update(static_cast<int64_t>(li), static_cast<int64_t>(layers.size()), "layers");
    const std::string& layer = layers[li];
    LayerSweepRow row;
    row.layer = layer;
    row.depth = std::find(all_names.begin(), all_names.end(), layer) - all_names.begin();
    row.shape = shape_text(policy.layer_shape(layer));
    const at::Tensor per_maze = per_maze_cheese_vectors(policy, layer, sm.mazes);
    const at::Tensor norms = per_maze.flatten(1).norm(2, {1});
    const at::Tensor mean_difference = per_maze.mean(0);
    row.per_maze_norm = norms.mean().item<double>();
    row.mean_difference_norm = mean_difference.norm().item<double>();
    std::vector<int64_t> column(per_maze.dim(), 1);
    column[0] = per_maze.size(0);
    const at::Tensor random = random_unit_rows(per_maze, gen) * norms.reshape(column);
    const auto effect = [&](const at::Tensor& delta, std::vector<double>* out) {
      const auto p = goal_probs(sm, probs_at_squares(policy, sm, layer, delta * coeff)).first;
      for (size_t i = 0; i < p.size(); ++i) out->push_back(p[i] - plain[i]);
      return median(p);
    };
    row.median_p_cheese_per_maze = effect(per_maze, &row.effect_per_maze);
    row.median_p_cheese_mean_difference =
        effect(mean_difference.unsqueeze(0).expand(per_maze.sizes()).contiguous(), &row.effect_mean_difference);
    row.median_p_cheese_random = effect(random, &row.effect_random);
    s.rows.push_back(row);
  }
  progress.settle(static_cast<int64_t>(layers.size()), static_cast<int64_t>(layers.size()), "layers");
  return s;
}

// ---- reports

std::string layer_sweep_csv(const LayerSweep& s) {
  std::ostringstream csv;
  csv << "depth,layer,shape,per_maze_norm,mean_difference_norm,median_p_cheese_none,median_p_cheese_per_maze,"
         "median_p_cheese_mean_difference,median_p_cheese_random,mean_effect_per_maze,ci95_per_maze,"
         "mean_effect_mean_difference,ci95_mean_difference,mean_effect_random,ci95_random\n";
  for (const auto& r : s.rows)
    csv << r.depth << ',' << r.layer << ',' << r.shape << ',' << csv_number(r.per_maze_norm) << ','
        << csv_number(r.mean_difference_norm) << ',' << csv_number(s.median_p_cheese) << ','
        << csv_number(r.median_p_cheese_per_maze) << ',' << csv_number(r.median_p_cheese_mean_difference) << ','
        << csv_number(r.median_p_cheese_random) << ',' << csv_number(finite_mean(r.effect_per_maze)) << ','
        << csv_number(t_interval95(r.effect_per_maze)) << ',' << csv_number(finite_mean(r.effect_mean_difference))
        << ',' << csv_number(t_interval95(r.effect_mean_difference)) << ',' << csv_number(finite_mean(r.effect_random))
        << ',' << csv_number(t_interval95(r.effect_random)) << '\n';
  return csv.str();
}

std::string layer_sweep_json(const MazePolicy& policy, const std::string& seeds, const LayerSweep& s,
                             const MazeCounts& counts) {
  Json j = summary_header("layer-sweep", policy.checkpoint(), seeds, "ours", counts);
  j["coeff"] = number(s.coeff);
  j["mazes"] = s.mazes;
  j["mazes_left_out"] = s.left_out;
  j["median_p_cheese_no_vector"] = number(s.median_p_cheese);
  // The layer where each vector moves P(cheese) the most (largest mean |change|).
  const auto strongest = [&](std::vector<double> LayerSweepRow::*field) {
    const LayerSweepRow* best = nullptr;
    for (const auto& r : s.rows)
      if (!best || std::abs(finite_mean(r.*field)) > std::abs(finite_mean(best->*field))) best = &r;
    return best ? Json{{"layer", best->layer}, {"mean_effect", number(finite_mean(best->*field))}} : Json();
  };
  j["strongest_per_maze"] = strongest(&LayerSweepRow::effect_per_maze);
  j["strongest_mean_difference"] = strongest(&LayerSweepRow::effect_mean_difference);
  j["strongest_random"] = strongest(&LayerSweepRow::effect_random);
  Json layers = Json::array();
  for (const auto& r : s.rows)
    layers.push_back({{"layer", r.layer},
                      {"depth", r.depth},
                      {"mean_effect_per_maze", number(finite_mean(r.effect_per_maze))},
                      {"mean_effect_mean_difference", number(finite_mean(r.effect_mean_difference))},
                      {"mean_effect_random", number(finite_mean(r.effect_random))}});
  j["layers"] = layers;
  return dump(j);
}

std::string layer_sweep_svg(const LayerSweep& s) {
  LinePanel p;
  p.title = "Change of P(cheese move | decision square), vector added with coefficient " + csv_number(s.coeff) +
            " (mean over " + std::to_string(s.mazes) + " mazes, 95% interval)";
  p.x_label = "tap index in the network (0 = first; names in layer_sweep.csv)";
  p.y_label = "change of P(cheese)";
  const auto series = [&](const std::string& name, std::vector<double> LayerSweepRow::*field) {
    LineSeries l;
    l.name = name;
    l.band_name = "95% interval";
    for (const auto& r : s.rows) {
      const double m = finite_mean(r.*field), h = t_interval95(r.*field);
      l.x.push_back(static_cast<double>(r.depth));
      l.y.push_back(m);
      l.band_lo.push_back(m - h);
      l.band_hi.push_back(m + h);
    }
    return l;
  };
  p.series.push_back(series("per-maze cheese vector", &LayerSweepRow::effect_per_maze));
  p.series.push_back(series("mean-difference cheese vector", &LayerSweepRow::effect_mean_difference));
  p.series.push_back(series("random vector, per-maze norm", &LayerSweepRow::effect_random));
  LineChart chart;
  chart.title = "Which layer steers best: the cheese vector at each tap point";
  chart.panels.push_back(p);
  return line_chart_svg(chart);
}

}  // namespace shardlab::analysis
