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

double mean_of(const std::vector<double>& v) { return finite_mean(v); }

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

SteeringComparison compare_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                    const SteeringCompareOptions& options) {
  torch::NoGradGuard no_grad;
  policy.layer_shape(options.layer);  // checks the name
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  const int64_t n = static_cast<int64_t>(sm.mazes.size());
  if (n < 4)
    throw InputError("steering-compare: " + std::to_string(n) +
                     " mazes with a decision square; the probe needs at least 4 (widen --seeds)");
  SteeringComparison c;
  c.layer = options.layer;
  c.mazes = n;
  c.left_out = sm.left_out;

  const at::Tensor with = activations_at_start(policy, options.layer, sm.mazes);
  const at::Tensor without = activations_at_start(policy, options.layer, without_cheese_all(sm.mazes));
  const at::Tensor per_maze = with - without;
  c.norm = per_maze.flatten(1).norm(2, {1}).mean().item<double>();
  const at::Tensor mean_difference = per_maze.mean(0);

  // The probe: even-numbered mazes train it, odd-numbered ones test it.
  const at::Tensor even = torch::arange(0, n, 2), odd = torch::arange(1, n, 2);
  const auto rows_of = [&](const at::Tensor& index) {
    return at::cat({with.index_select(0, index), without.index_select(0, index)});
  };
  const auto labels_of = [&](const at::Tensor& index) {
    return at::cat({torch::ones({index.size(0)}), torch::zeros({index.size(0)})});
  };
  const LinearProbe probe = fit_linear_probe(rows_of(even), labels_of(even));
  c.probe_train_accuracy = probe.train_accuracy;
  c.probe_test_accuracy = probe_accuracy(probe, rows_of(odd), labels_of(odd));
  const double md_norm = mean_difference.norm().item<double>(), probe_norm = probe.weight.norm().item<double>();
  c.cosine_mean_difference_probe = md_norm > 0 && probe_norm > 0
                                       ? (mean_difference * probe.weight).sum().item<double>() / (md_norm * probe_norm)
                                       : std::nan("");

  // Unit directions, one per maze.
  const auto expand = [&](const at::Tensor& v) { return v.unsqueeze(0).expand(per_maze.sizes()).contiguous(); };
  at::Generator gen = at::detail::createCPUGenerator(options.seed);
  const std::vector<std::pair<std::string, at::Tensor>> methods = {
      {"per_maze", unit_rows(per_maze)},
      {"mean_difference", unit_rows(expand(mean_difference))},
      {"probe", unit_rows(expand(probe.weight))},
      {"random", random_unit_rows(per_maze, gen)}};

  const auto [p_cheese, p_top_right] = goal_probs(sm, probs_at_squares(policy, sm, options.layer, at::Tensor()));
  c.median_p_cheese = median(p_cheese);
  c.median_p_top_right = median(p_top_right);
  c.mean_p_cheese = mean_of(p_cheese);
  c.mean_p_top_right = mean_of(p_top_right);

  Progress progress("steering-compare");
  int64_t done = 0;
  const int64_t total = static_cast<int64_t>(methods.size() * options.coeffs.size());
  for (const auto& [method, unit] : methods)
    for (const double coeff : options.coeffs) {
      progress.update(done++, total, "settings");
      const auto [cheese, top_right] =
          goal_probs(sm, probs_at_squares(policy, sm, options.layer, unit * (coeff * c.norm)));
      SteeringCompareRow row;
      row.method = method;
      row.coeff = coeff;
      row.median_p_cheese = median(cheese);
      row.mean_p_cheese = mean_of(cheese);
      row.median_p_top_right = median(top_right);
      row.mean_p_top_right = mean_of(top_right);
      for (int64_t i = 0; i < n; ++i) {
        row.cheese_rose += cheese[i] > p_cheese[i];
        row.cheese_fell += cheese[i] < p_cheese[i];
      }
      c.rows.push_back(row);
    }
  progress.settle(total, total, "settings");
  return c;
}

// ---- reports

std::string steering_compare_csv(const SteeringComparison& c) {
  std::ostringstream csv;
  csv << "method,coeff,norm,median_p_cheese,mean_p_cheese,median_p_top_right,mean_p_top_right,cheese_rose,"
         "cheese_fell\n";
  csv << "none,0,0," << csv_number(c.median_p_cheese) << ',' << csv_number(c.mean_p_cheese) << ','
      << csv_number(c.median_p_top_right) << ',' << csv_number(c.mean_p_top_right) << ",0,0\n";
  for (const auto& r : c.rows)
    csv << r.method << ',' << csv_number(r.coeff) << ',' << csv_number(std::abs(r.coeff) * c.norm) << ','
        << csv_number(r.median_p_cheese) << ',' << csv_number(r.mean_p_cheese) << ','
        << csv_number(r.median_p_top_right) << ',' << csv_number(r.mean_p_top_right) << ',' << r.cheese_rose << ','
        << r.cheese_fell << '\n';
  return csv.str();
}

std::string steering_compare_json(const MazePolicy& policy, const std::string& seeds, const SteeringComparison& c,
                                  const MazeCounts& counts) {
  Json j = summary_header("steering-compare", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = c.layer;
  j["mazes"] = c.mazes;
  j["mazes_left_out"] = c.left_out;
  j["common_norm"] = number(c.norm);
  j["probe_train_accuracy"] = number(c.probe_train_accuracy);
  j["probe_test_accuracy"] = number(c.probe_test_accuracy);
  j["cosine_mean_difference_probe"] = number(c.cosine_mean_difference_probe);
  j["no_vector"] = {{"median_p_cheese", number(c.median_p_cheese)},
                    {"median_p_top_right", number(c.median_p_top_right)}};
  Json rows = Json::array();
  for (const auto& r : c.rows)
    rows.push_back({{"method", r.method},
                    {"coeff", number(r.coeff)},
                    {"median_p_cheese", number(r.median_p_cheese)},
                    {"median_p_top_right", number(r.median_p_top_right)},
                    {"cheese_rose", r.cheese_rose},
                    {"cheese_fell", r.cheese_fell}});
  j["settings"] = rows;
  return dump(j);
}

std::string steering_compare_svg(const SteeringComparison& c) {
  std::vector<double> coeffs;
  for (const auto& r : c.rows)
    if (std::find(coeffs.begin(), coeffs.end(), r.coeff) == coeffs.end()) coeffs.push_back(r.coeff);
  std::sort(coeffs.begin(), coeffs.end());
  const auto panel = [&](const std::string& title, double SteeringCompareRow::*field, double baseline) {
    LinePanel p;
    p.title = title;
    p.x_label = "coefficient (times the common norm " + csv_number(c.norm) + "; positive: toward cheese)";
    p.y_label = "median probability";
    for (const std::string method : {"per_maze", "mean_difference", "probe", "random"}) {
      LineSeries s;
      s.name = method == std::string("per_maze")          ? "per-maze cheese vector (ActAdd)"
               : method == std::string("mean_difference") ? "mean difference"
               : method == std::string("probe")           ? "probe direction"
                                                          : "random direction (control)";
      for (const double coeff : coeffs)
        for (const auto& r : c.rows)
          if (r.method == method && r.coeff == coeff) {
            s.x.push_back(coeff);
            s.y.push_back(r.*field);
          }
      p.series.push_back(s);
    }
    LineSeries none;
    none.name = "no vector";
    none.x = {coeffs.front(), coeffs.back()};
    none.y = {baseline, baseline};
    p.series.push_back(none);
    return p;
  };
  LineChart chart;
  chart.title =
      "Steering directions compared at " + c.layer + " (" + std::to_string(c.mazes) + " decision-square mazes)";
  chart.panels.push_back(
      panel("P(cheese move | decision square)", &SteeringCompareRow::median_p_cheese, c.median_p_cheese));
  chart.panels.push_back(
      panel("P(top-right move | decision square)", &SteeringCompareRow::median_p_top_right, c.median_p_top_right));
  return line_chart_svg(chart);
}

}  // namespace shardlab::analysis
