#include "analysis/pushes.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/statistics.h"
#include "media/bar_chart.h"

namespace shardlab::analysis {
namespace {

// d = log P(cheese move) - log P(top-right move) per maze, from (mazes, 5) move probabilities.
at::Tensor gap_of(const DecisionSquareMazes& sm, const at::Tensor& probs) {
  const at::Tensor log_p = probs.clamp_min(1e-30).log();
  std::vector<int64_t> cheese, top_right;
  for (const DecisionSquare& ds : sm.squares) {
    cheese.push_back(ds.cheese_move);
    top_right.push_back(ds.top_right_move);
  }
  return (log_p.gather(1, torch::tensor(cheese).unsqueeze(1)) - log_p.gather(1, torch::tensor(top_right).unsqueeze(1)))
      .squeeze(1);
}

std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Channels whose mean push passes zero by more than its interval in the direction `sign`.
std::vector<int64_t> pushing(const PushStudy& s, double sign) {
  std::vector<std::pair<double, int64_t>> found;
  for (const auto& c : s.channels) {
    const double m = finite_mean(c.ablation) * sign, h = t_interval95(c.ablation);
    if (m - h > 0) found.push_back({-m, c.channel});
  }
  std::sort(found.begin(), found.end());
  std::vector<int64_t> out;
  for (const auto& f : found) out.push_back(f.second);
  return out;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = finite_mean(a), mb = finite_mean(b);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::nan("");
}

}  // namespace

PushStudy measure_pushes(const MazePolicy& policy, const std::string& layer, const std::vector<MazeLayout>& levels) {
  policy.layer_shape(layer);  // checks the name
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  if (sm.mazes.empty()) throw InputError("pushes: no maze with a decision square among the seeds");
  PushStudy s;
  s.layer = layer;
  s.mazes = static_cast<int64_t>(sm.mazes.size());
  s.left_out = sm.left_out;
  std::vector<MazeInput> inputs;
  for (size_t i = 0; i < sm.mazes.size(); ++i) inputs.push_back({sm.mazes[i], sm.squares[i].cell});
  const at::Tensor obs = policy.observations(inputs);

  // The plain pass with gradients of d with respect to the layer's activation.
  at::Tensor acts;
  at::Tensor grads;
  {
    torch::AutoGradMode grad_mode(true);
    ActivationTaps taps;
    taps.add_patch(layer, [&acts](const at::Tensor& x) {
      acts = x.detach().clone().requires_grad_(true);
      return acts;
    });
    const at::Tensor gap = gap_of(sm, policy.forward_with_grad(obs, &taps).probs);
    grads = torch::autograd::grad({gap.sum()}, {acts})[0].detach();
    s.gap = to_vector(gap.detach());
    acts = acts.detach();
  }
  const at::Tensor mean = acts.mean(0, /*keepdim=*/true);
  const at::Tensor gap = torch::tensor(s.gap, at::kDouble);

  torch::NoGradGuard no_grad;
  const auto push_with = [&](const ActivationPatch& patch) {
    ActivationTaps taps;
    taps.add_patch(layer, patch);
    return gap - gap_of(sm, policy.forward(obs, &taps).probs).to(at::kDouble);
  };
  s.all_channels = to_vector(push_with([&](const at::Tensor& x) { return mean.expand_as(x).to(x.dtype()); }));
  const int64_t channels = acts.size(1);
  at::Tensor sum = torch::zeros({s.mazes}, at::kDouble);
  Progress progress("pushes");
  for (int64_t c = 0; c < channels; ++c) {
    progress.update(c, channels, "channels");
    ChannelPush p;
    p.channel = c;
    const at::Tensor push = push_with([&, c](const at::Tensor& x) {
      at::Tensor y = x.clone();
      y.select(1, c).copy_(mean.select(1, c).expand_as(y.select(1, c)));
      return y;
    });
    sum += push;
    p.ablation = to_vector(push);
    const at::Tensor gxa = (grads.select(1, c) * (acts.select(1, c) - mean.select(1, c))).reshape({s.mazes, -1});
    p.gradient_x_activation = to_vector(gxa.sum(1));
    s.channels.push_back(std::move(p));
  }
  progress.settle(channels, channels, "channels");
  s.sum_of_single = to_vector(sum);
  return s;
}

std::vector<int64_t> cheese_pushing(const PushStudy& s) { return pushing(s, 1); }
std::vector<int64_t> top_right_pushing(const PushStudy& s) { return pushing(s, -1); }

std::string pushes_csv(const PushStudy& s, const std::vector<int64_t>& tracking_rank) {
  std::ostringstream csv;
  csv << "channel,mean_push_ablation,ci95_ablation,mean_push_gradient_x_activation,ci95_gradient_x_activation,"
         "share_toward_cheese,cheese_tracking_rank\n";
  for (const auto& c : s.channels) {
    int64_t toward = 0;
    for (double v : c.ablation) toward += v > 0;
    csv << c.channel << ',' << csv_number(finite_mean(c.ablation)) << ',' << csv_number(t_interval95(c.ablation)) << ','
        << csv_number(finite_mean(c.gradient_x_activation)) << ',' << csv_number(t_interval95(c.gradient_x_activation))
        << ',' << csv_number(static_cast<double>(toward) / static_cast<double>(std::max<int64_t>(1, s.mazes))) << ',';
    if (!tracking_rank.empty()) csv << tracking_rank[c.channel];
    csv << '\n';
  }
  return csv.str();
}

std::string pushes_json(const MazePolicy& policy, const std::string& seeds, const PushStudy& s,
                        const std::vector<int64_t>& tracking_order, const MazeCounts& counts) {
  Json j = summary_header("pushes", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = s.layer;
  j["mazes"] = s.mazes;
  j["mazes_left_out"] = s.left_out;
  j["mean_gap_log_p_cheese_minus_log_p_top_right"] = number(finite_mean(s.gap));
  const auto cheese = cheese_pushing(s), top_right = top_right_pushing(s);
  j["cheese_pushing_channels"] = cheese;
  j["top_right_pushing_channels"] = top_right;
  j["additivity"] = {{"mean_push_all_channels", number(finite_mean(s.all_channels))},
                     {"mean_sum_of_single_channel_pushes", number(finite_mean(s.sum_of_single))},
                     {"correlation_over_mazes", number(pearson(s.all_channels, s.sum_of_single))}};
  std::vector<double> ablation, gxa;
  for (const auto& c : s.channels) {
    ablation.push_back(finite_mean(c.ablation));
    gxa.push_back(finite_mean(c.gradient_x_activation));
  }
  j["correlation_ablation_gradient_x_activation_over_channels"] = number(pearson(ablation, gxa));
  if (!tracking_order.empty()) {
    // Are the channels that track the cheese the ones that push toward it? The overlap of the top
    // k of each, k = the number of cheese-pushing channels (at least 1, at most 5).
    const size_t k = std::clamp<size_t>(cheese.size(), 1, 5);
    std::vector<int64_t> by_push;
    std::vector<std::pair<double, int64_t>> order;
    for (const auto& c : s.channels) order.push_back({-finite_mean(c.ablation), c.channel});
    std::sort(order.begin(), order.end());
    for (size_t i = 0; i < k && i < order.size(); ++i) by_push.push_back(order[i].second);
    const std::vector<int64_t> tracking(tracking_order.begin(),
                                        tracking_order.begin() + std::min(k, tracking_order.size()));
    int64_t overlap = 0;
    for (int64_t c : by_push) overlap += std::count(tracking.begin(), tracking.end(), c) > 0;
    j["cheese_tracking"] = {
        {"top_k", k}, {"top_pushing_toward_cheese", by_push}, {"top_tracking_cheese", tracking}, {"overlap", overlap}};
  }
  return dump(j);
}

std::string pushes_svg(const PushStudy& s) {
  BarChart chart;
  chart.title = "Channel pushes at the decision square, " + s.layer + " (" + std::to_string(s.mazes) + " mazes)";
  chart.x_label = "channel";
  chart.y_label = "push toward cheese: change of log P(cheese) - log P(top-right)";
  chart.series = {"mean ablation", "gradient x activation"};
  for (const auto& c : s.channels) {
    const std::string group = std::to_string(c.channel);
    chart.groups.push_back(group);
    chart.samples[{group, chart.series[0]}] = c.ablation;
    chart.samples[{group, chart.series[1]}] = c.gradient_x_activation;
  }
  return bar_chart_svg(chart);
}

}  // namespace shardlab::analysis
