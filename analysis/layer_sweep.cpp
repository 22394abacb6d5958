#include "analysis/layer_sweep.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/statistics.h"
#include "core/text.h"
#include "media/line_chart.h"

namespace shardlab::analysis {
namespace {

// Each maze with the mouse at its decision square.
std::vector<MazeInput> at_squares(const std::vector<MazeLayout>& mazes, const DecisionSquareMazes& sm) {
  std::vector<MazeInput> out;
  for (size_t i = 0; i < mazes.size(); ++i) out.push_back({mazes[i], sm.squares[i].cell});
  return out;
}

// Per maze, P(cheese move) at its decision square in `mazes` (sm's mazes or edits of them), with
// `shift` (mazes, ...) added at `layer` (no patch when `shift` is undefined).
std::vector<double> p_cheese(const MazePolicy& policy, const DecisionSquareMazes& sm,
                             const std::vector<MazeLayout>& mazes, const std::string& layer, const at::Tensor& shift) {
  const at::Tensor probs =
      policy
          .in_chunks(at_squares(mazes, sm),
                     [&](const at::Tensor& obs, int64_t begin, int64_t end) {
                       ActivationTaps taps;
                       if (shift.defined()) {
                         const at::Tensor d = shift.slice(0, begin, end);
                         taps.add_patch(layer, [d](const at::Tensor& x) { return x + d.to(x.dtype()); });
                       }
                       return std::vector<at::Tensor>{policy.forward(obs, &taps).probs};
                     })
          .front();
  const auto p = probs.accessor<float, 2>();
  std::vector<double> out;
  for (size_t i = 0; i < mazes.size(); ++i) out.push_back(p[i][sm.squares[i].cheese_move]);
  return out;
}

std::vector<double> subtract(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out;
  for (size_t i = 0; i < a.size(); ++i) out.push_back(a[i] - b[i]);
  return out;
}

// Per-row RMS and norm of (rows, ...), in double.
at::Tensor row_rms(const at::Tensor& x) { return x.flatten(1).to(at::kDouble).pow(2).mean(1).sqrt(); }
at::Tensor row_norm(const at::Tensor& x) { return x.flatten(1).to(at::kDouble).norm(2, {1}); }

// (rows,) reshaped to broadcast over (rows, ...) like `like`.
at::Tensor per_row(const at::Tensor& values, const at::Tensor& like) {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = like.size(0);
  return values.reshape(shape).to(like.dtype());
}

// Gaussian directions of unit norm, one per row of `like`.
at::Tensor random_unit_rows(const at::Tensor& like, at::Generator& gen) {
  const at::Tensor v = at::normal(0.0, 1.0, like.sizes(), gen, like.options());
  return v / per_row(row_norm(v).clamp_min(1e-12), v);
}

// The summary of an edit's per-maze effect against the ceiling's: the mean with its bootstrap
// interval, and mean(effect) / mean(ceiling) with a paired bootstrap interval (the same resampled
// mazes in numerator and denominator).
void summarize(SweepEdit& e, const std::vector<double>& ceiling, const LayerSweepOptions& o) {
  e.mean_effect = finite_mean(e.effect);
  e.effect_ci95 = bootstrap_mean_interval(e.effect, o.bootstrap_draws, o.seed);
  const auto ratio = [&](const std::vector<size_t>& idx) {
    double num = 0, den = 0;
    for (size_t i : idx) {
      num += e.effect[i];
      den += ceiling[i];
    }
    return den != 0 ? num / den : std::nan("");
  };
  std::vector<size_t> all(e.effect.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  e.fraction_of_ceiling = ratio(all);
  e.fraction_of_ceiling_ci95 = bootstrap_interval(e.effect.size(), ratio, o.bootstrap_draws, o.seed);
}

// The random control's summary: its draws' mean, 2.5 and 97.5 percentiles, and the one-sided
// empirical p of the edit's mean effect in the direction the coefficient's sign predicts.
void summarize_random(SweepEdit& e) {
  e.random_mean = finite_mean(e.random_effects);
  e.random_band95 = {quantile(e.random_effects, 0.025), quantile(e.random_effects, 0.975)};
  e.p_random = e.coeff < 0   ? empirical_p_less(e.mean_effect, e.random_effects)
               : e.coeff > 0 ? empirical_p_greater(e.mean_effect, e.random_effects)
                             : std::nan("");
}

void check_options(const MazePolicy& policy, const LayerSweepOptions& o) {
  if (o.layers.empty()) throw InputError("layer-sweep: no layer named");
  for (const auto& layer : o.layers) policy.layer_shape(layer);  // checks every name first
  if (o.coeffs.empty()) throw InputError("layer-sweep: --coeffs: expected C1,C2,...");
  if (o.random_draws < kMinRandomDraws)
    throw InputError("layer-sweep: --random-draws " + std::to_string(o.random_draws) + ": at least " +
                     std::to_string(kMinRandomDraws) + " (the smallest empirical p is 1 / (draws + 1))");
  if (o.bootstrap_draws < 1) throw InputError("layer-sweep: bootstrap draws must be positive");
}

// One layer of the sweep: its vectors, the input-edit check, every edit and its random control.
LayerSweepRow sweep_layer(const MazePolicy& policy, const DecisionSquareMazes& sm,
                          const std::vector<MazeLayout>& without, const std::string& layer, const LayerSweep& s) {
  const LayerSweepOptions& o = s.options;
  LayerSweepRow row;
  row.layer = layer;
  const auto& names = policy.layers();
  row.depth = std::find(names.begin(), names.end(), layer) - names.begin();
  row.shape = join(policy.layer_shape(layer), "x");
  const at::Tensor a = policy.activations(at_squares(sm.mazes, sm), layer);
  const at::Tensor a_without = policy.activations(at_squares(without, sm), layer);
  const at::Tensor v = policy.activations(at_start(sm.mazes), layer) - policy.activations(at_start(without), layer);
  row.activation_rms = std::sqrt(a.to(at::kDouble).pow(2).mean().item<double>());
  row.vector_rms = row_rms(v).mean().item<double>();
  const at::Tensor residual = row_norm(a.to(at::kDouble) - v.to(at::kDouble) - a_without.to(at::kDouble));
  row.input_edit_residual = (residual / row_norm(v).clamp_min(1e-30)).max().item<double>();
  row.input_edit = row.input_edit_residual <= kInputEditTolerance;

  std::vector<at::Tensor> shifts;
  for (const double c : o.coeffs) {
    shifts.push_back(rms_scaled_shift(v, row.activation_rms, c));
    SweepEdit scaled;
    scaled.reading = "scaled";
    scaled.coeff = c;
    row.edits.push_back(scaled);
  }
  shifts.push_back(v * kPublishedCoeff);
  SweepEdit published;
  published.reading = "published";
  published.coeff = kPublishedCoeff;
  row.edits.push_back(published);
  for (size_t k = 0; k < shifts.size(); ++k) {
    SweepEdit& e = row.edits[k];
    e.shift_rms = row_rms(shifts[k]).mean().item<double>();
    e.effect = subtract(p_cheese(policy, sm, sm.mazes, layer, shifts[k]), s.p_cheese);
    summarize(e, s.ceiling.effect, o);
  }
  // The same random directions for every edit of a draw, each at its edit's per-maze norm.
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(o.seed, static_cast<uint64_t>(row.depth)));
  for (int64_t d = 0; d < o.random_draws; ++d) {
    const at::Tensor unit = random_unit_rows(v, gen);
    for (size_t k = 0; k < shifts.size(); ++k) {
      const at::Tensor random = unit * per_row(row_norm(shifts[k]), unit);
      row.edits[k].random_effects.push_back(
          finite_mean(subtract(p_cheese(policy, sm, sm.mazes, layer, random), s.p_cheese)));
    }
  }
  for (auto& e : row.edits) summarize_random(e);
  return row;
}

}  // namespace

std::vector<std::string> sweep_layers(const MazePolicy& policy, bool all) {
  std::vector<std::string> out;
  for (const auto& layer : policy.layers()) {
    // The value head is not read by the policy; the policy head's output is the logits themselves,
    // where subtracting the cheese vector is an edit of the answer, not of a representation.
    if (layer == "fc_value_out" || layer == "fc_policy_out") continue;
    const bool main = ends_with(layer, ".conv_out") || ends_with(layer, ".maxpool_out") ||
                      ends_with(layer, ".resadd_out") || layer.rfind("embedder.block", 0) != 0;
    if (all || main) out.push_back(layer);
  }
  return out;
}

at::Tensor rms_scaled_shift(const at::Tensor& vectors, double layer_rms, double coeff) {
  const at::Tensor rms = row_rms(vectors);
  const at::Tensor scale = at::where(rms > 0, coeff * layer_rms / rms.clamp_min(1e-300), at::zeros_like(rms));
  return vectors * per_row(scale, vectors);
}

LayerSweep sweep_steering_layers(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                 const LayerSweepOptions& options) {
  torch::NoGradGuard no_grad;
  check_options(policy, options);
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  if (sm.mazes.empty()) throw InputError("layer-sweep: no maze with a decision square among the seeds");
  LayerSweep s;
  s.options = options;
  s.mazes = static_cast<int64_t>(sm.mazes.size());
  s.left_out = sm.left_out;
  s.p_cheese = p_cheese(policy, sm, sm.mazes, "", at::Tensor());
  std::vector<MazeLayout> without;
  for (const auto& m : sm.mazes) without.push_back(without_cheese(m));
  s.ceiling.reading = "cheese_removed_from_input";
  s.ceiling.effect = subtract(p_cheese(policy, sm, without, "", at::Tensor()), s.p_cheese);
  summarize(s.ceiling, s.ceiling.effect, options);
  const std::string& first = options.layers.front();
  const auto first_shape = policy.layer_shape(first);
  std::vector<int64_t> zeros_shape = {s.mazes};
  zeros_shape.insert(zeros_shape.end(), first_shape.begin(), first_shape.end());
  s.no_edit.reading = "no_edit";
  s.no_edit.effect = subtract(p_cheese(policy, sm, sm.mazes, first, at::zeros(zeros_shape)), s.p_cheese);
  summarize(s.no_edit, s.ceiling.effect, options);

  Progress progress("layer-sweep");
  const int64_t total = static_cast<int64_t>(options.layers.size());
  for (int64_t li = 0; li < total; ++li) {
    progress.update(li, total, "layers");
    s.rows.push_back(sweep_layer(policy, sm, without, options.layers[li], s));
  }
  progress.settle(total, total, "layers");
  return s;
}

std::pair<const LayerSweepRow*, const SweepEdit*> best_layer(const LayerSweep& s, const std::string& reading,
                                                             double coeff) {
  std::pair<const LayerSweepRow*, const SweepEdit*> best{nullptr, nullptr};
  for (const auto& r : s.rows) {
    if (r.input_edit) continue;
    for (const auto& e : r.edits)
      if (e.reading == reading && e.coeff == coeff && std::isfinite(e.fraction_of_ceiling) &&
          (!best.second || e.fraction_of_ceiling > best.second->fraction_of_ceiling))
        best = {&r, &e};
  }
  return best;
}

bool ceiling_excludes_zero(const LayerSweep& s) { return s.ceiling.effect_ci95.lo > 0 || s.ceiling.effect_ci95.hi < 0; }

// ---- reports

namespace {

Json bounds_json(const Interval& i) { return Json::array({number(i.lo), number(i.hi)}); }

std::string edit_label(const SweepEdit& e) {
  return e.reading == "scaled" ? csv_number(e.coeff) + " x RMS" : "published " + csv_number(e.coeff);
}

Json edit_json(const SweepEdit& e, bool with_random) {
  Json j;
  j["reading"] = e.reading;
  j["coeff"] = number(e.coeff);
  if (with_random) j["shift_rms"] = number(e.shift_rms);
  j["effect"] = number(e.mean_effect);
  j["effect_ci95"] = bounds_json(e.effect_ci95);
  j["fraction_of_ceiling"] = number(e.fraction_of_ceiling);
  j["fraction_of_ceiling_ci95"] = bounds_json(e.fraction_of_ceiling_ci95);
  if (with_random) {
    j["random_effect_mean"] = number(e.random_mean);
    j["random_effect_band95"] = bounds_json(e.random_band95);
    j["p_random"] = number(e.p_random);
  }
  return j;
}

Json best_json(const std::pair<const LayerSweepRow*, const SweepEdit*>& best) {
  if (!best.first) return nullptr;
  Json j = {{"layer", best.first->layer}, {"depth", best.first->depth}};
  j.update(edit_json(*best.second, true));
  return j;
}

}  // namespace

std::string layer_sweep_csv(const LayerSweep& s) {
  std::ostringstream csv;
  csv << "depth,layer,shape,activation_rms,vector_rms,input_edit,input_edit_residual,reading,coeff,shift_rms,"
         "mean_effect,effect_ci95_lo,effect_ci95_hi,fraction_of_ceiling,fraction_ci95_lo,fraction_ci95_hi,"
         "random_effect_mean,random_effect_p2.5,random_effect_p97.5,p_random\n";
  const auto edit = [&](const SweepEdit& e) {
    csv << e.reading << ',' << csv_number(e.coeff) << ',' << csv_number(e.shift_rms) << ',' << csv_number(e.mean_effect)
        << ',' << csv_number(e.effect_ci95.lo) << ',' << csv_number(e.effect_ci95.hi) << ','
        << csv_number(e.fraction_of_ceiling) << ',' << csv_number(e.fraction_of_ceiling_ci95.lo) << ','
        << csv_number(e.fraction_of_ceiling_ci95.hi) << ',' << csv_number(e.random_mean) << ','
        << csv_number(e.random_band95.lo) << ',' << csv_number(e.random_band95.hi) << ',' << csv_number(e.p_random)
        << '\n';
  };
  // The reference rows: no layer, no random control.
  for (const SweepEdit* e : {&s.ceiling, &s.no_edit}) {
    SweepEdit r = *e;
    r.random_mean = r.p_random = std::nan("");
    csv << ",input,,,,,,";
    edit(r);
  }
  for (const auto& r : s.rows)
    for (const auto& e : r.edits) {
      csv << r.depth << ',' << r.layer << ',' << r.shape << ',' << csv_number(r.activation_rms) << ','
          << csv_number(r.vector_rms) << ',' << (r.input_edit ? "yes" : "no") << ','
          << csv_number(r.input_edit_residual) << ',';
      edit(e);
    }
  return csv.str();
}

std::string layer_sweep_json(const MazePolicy& policy, const std::string& seeds, const LayerSweep& s,
                             const MazeCounts& counts) {
  const LayerSweepOptions& o = s.options;
  Json j = summary_header("layer-sweep", policy.checkpoint(), seeds, "ours", counts);
  j["mazes"] = s.mazes;
  j["mazes_left_out"] = s.left_out;
  j["scaled_shift"] = "coeff * RMS(layer activations, mouse at the decision squares) * v / RMS(v)";
  j["coeffs"] = o.coeffs;
  j["headline_coeff"] = number(o.coeffs.front());
  j["published_coeff"] = number(kPublishedCoeff);
  j["random_draws"] = o.random_draws;
  j["bootstrap_draws"] = o.bootstrap_draws;
  j["seed"] = o.seed;
  j["input_edit_tolerance"] = number(kInputEditTolerance);
  j["mean_p_cheese_no_edit"] = number(finite_mean(s.p_cheese));
  j["ceiling_effect"] = number(s.ceiling.mean_effect);
  j["ceiling_effect_ci95"] = bounds_json(s.ceiling.effect_ci95);
  j["ceiling_excludes_zero"] = ceiling_excludes_zero(s);
  j["no_edit_effect"] = number(s.no_edit.mean_effect);
  j["no_edit_effect_ci95"] = bounds_json(s.no_edit.effect_ci95);
  Json edits = Json::array();
  for (const auto& r : s.rows)
    if (r.input_edit) edits.push_back(r.layer);
  j["input_edit_layers"] = edits;
  j["best_layer"] = best_json(best_layer(s, "scaled", o.coeffs.front()));
  j["best_layer_published"] = best_json(best_layer(s, "published", kPublishedCoeff));
  Json layers = Json::array();
  for (const auto& r : s.rows) {
    Json l = {{"layer", r.layer},
              {"depth", r.depth},
              {"shape", r.shape},
              {"activation_rms", number(r.activation_rms)},
              {"vector_rms", number(r.vector_rms)},
              {"input_edit", r.input_edit},
              {"input_edit_residual", number(r.input_edit_residual)}};
    Json le = Json::array();
    for (const auto& e : r.edits) le.push_back(edit_json(e, true));
    l["edits"] = le;
    layers.push_back(l);
  }
  j["layers"] = layers;
  return dump(j);
}

std::string layer_sweep_svg(const LayerSweep& s) {
  LinePanel p;
  std::string marked;
  for (const auto& r : s.rows)
    if (r.input_edit) marked += (marked.empty() ? "" : ", ") + std::to_string(r.depth);
  p.title = "Change of P(cheese move | decision square) when the cheese vector is subtracted (mean over " +
            std::to_string(s.mazes) + " mazes)" + (marked.empty() ? "" : "; input edits at tap " + marked);
  p.x_label = "tap index in the network (0 = first; names in layer_sweep.csv)";
  p.y_label = "change of P(cheese | d.s.)";
  std::vector<double> depths;
  for (const auto& r : s.rows) depths.push_back(static_cast<double>(r.depth));
  const size_t edits = s.rows.empty() ? 0 : s.rows.front().edits.size();
  for (size_t k = 0; k < edits; ++k) {
    LineSeries l;
    l.name = "cheese vector, " + edit_label(s.rows.front().edits[k]);
    for (const auto& r : s.rows) l.y.push_back(r.edits[k].mean_effect);
    l.x = depths;
    p.series.push_back(l);
  }
  LineSeries random;
  random.name = "random direction, same norm as " + edit_label(s.rows.front().edits.front()) + " (mean)";
  random.band_name = "random: 2.5-97.5 percentiles over " + std::to_string(s.options.random_draws) + " draws";
  for (const auto& r : s.rows) {
    random.y.push_back(r.edits.front().random_mean);
    random.band_lo.push_back(r.edits.front().random_band95.lo);
    random.band_hi.push_back(r.edits.front().random_band95.hi);
  }
  random.x = depths;
  p.series.push_back(random);
  const auto flat = [&](const std::string& name, double y) {
    LineSeries l;
    l.name = name;
    l.x = {depths.front(), depths.back()};
    l.y = {y, y};
    p.series.push_back(l);
  };
  flat("ceiling: cheese removed from the input (" + csv_number(s.ceiling.mean_effect) + ")", s.ceiling.mean_effect);
  flat("no edit (check: 0)", s.no_edit.mean_effect);
  LineChart chart;
  chart.title = "Which layer steers: the cheese vector at each tap, against deleting the cheese";
  chart.panels.push_back(p);
  return line_chart_svg(chart);
}

}  // namespace shardlab::analysis
