#include "analysis/layer_sweep.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "core/statistics.h"
#include "core/text.h"
#include "media/line_chart.h"

namespace shardlab::analysis {
namespace {

// Each maze with the mouse at its decision square.
std::vector<MazeInput> at_squares(const DecisionSquareMazes& sm) {
  std::vector<MazeInput> out;
  for (size_t i = 0; i < sm.mazes.size(); ++i) out.push_back({sm.mazes[i], sm.squares[i].cell});
  return out;
}

// Per maze, P(cheese move) at its decision square, with `delta` (mazes, ...) added at `layer`
// (no patch when `delta` is undefined).
std::vector<double> p_cheese_at_squares(const MazePolicy& policy, const DecisionSquareMazes& sm,
                                        const std::string& layer, const at::Tensor& delta) {
  const at::Tensor probs =
      policy
          .in_chunks(at_squares(sm),
                     [&](const at::Tensor& obs, int64_t begin, int64_t end) {
                       ActivationTaps taps;
                       if (delta.defined()) {
                         const at::Tensor d = delta.slice(0, begin, end);
                         taps.add_patch(layer, [d](const at::Tensor& x) { return x + d.to(x.dtype()); });
                       }
                       return std::vector<at::Tensor>{policy.forward(obs, &taps).probs};
                     })
          .front();
  const auto p = probs.accessor<float, 2>();
  std::vector<double> out;
  for (size_t i = 0; i < sm.mazes.size(); ++i) out.push_back(p[i][sm.squares[i].cheese_move]);
  return out;
}

// Per-maze cheese vectors at `layer`: (mazes, ...) activations with the cheese minus without,
// mouse at the start.
at::Tensor per_maze_vectors(const MazePolicy& policy, const std::string& layer, const std::vector<MazeLayout>& mazes) {
  std::vector<MazeLayout> without;
  for (const auto& m : mazes) without.push_back(without_cheese(m));
  return policy.activations(at_start(mazes), layer) - policy.activations(at_start(without), layer);
}

// Gaussian directions of unit norm, one per row of `like`.
at::Tensor random_unit_rows(const at::Tensor& like, at::Generator& gen) {
  const at::Tensor v = at::normal(0.0, 1.0, like.sizes(), gen, like.options());
  const at::Tensor norms = v.flatten(1).norm(2, {1}).clamp_min(1e-12);
  std::vector<int64_t> shape(v.dim(), 1);
  shape[0] = v.size(0);
  return v / norms.reshape(shape);
}

}  // namespace

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
  const auto plain = p_cheese_at_squares(policy, sm, layers.front(), at::Tensor());
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
    row.shape = join(policy.layer_shape(layer), "x");
    const at::Tensor per_maze = per_maze_vectors(policy, layer, sm.mazes);
    const at::Tensor norms = per_maze.flatten(1).norm(2, {1});
    const at::Tensor mean_difference = per_maze.mean(0);
    row.per_maze_norm = norms.mean().item<double>();
    row.mean_difference_norm = mean_difference.norm().item<double>();
    std::vector<int64_t> column(per_maze.dim(), 1);
    column[0] = per_maze.size(0);
    const at::Tensor random = random_unit_rows(per_maze, gen) * norms.reshape(column);
    const auto effect = [&](const at::Tensor& delta, std::vector<double>* out) {
      const auto p = p_cheese_at_squares(policy, sm, layer, delta * coeff);
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
