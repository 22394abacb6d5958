#include "analysis/pushes.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/significance.h"
#include "core/statistics.h"

namespace shardlab::analysis {
namespace {

// Streams of --seed: the resample donors and the channel shuffles draw independently.
constexpr uint64_t kDonorStream = 0, kShuffleStream = 1;

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

// Every channel under every ablation as one Holm family: cube[ablation][channel][maze].
std::vector<std::vector<PushTest>> test_cube(const std::vector<std::vector<std::vector<double>>>& cube, double alpha) {
  std::vector<std::vector<double>> rows;
  for (const auto& by_channel : cube) rows.insert(rows.end(), by_channel.begin(), by_channel.end());
  const std::vector<PushTest> tests = test_pushes(rows, alpha);
  std::vector<std::vector<PushTest>> out;
  size_t at = 0;
  for (const auto& by_channel : cube) {
    out.emplace_back(tests.begin() + static_cast<std::ptrdiff_t>(at),
                     tests.begin() + static_cast<std::ptrdiff_t>(at + by_channel.size()));
    at += by_channel.size();
  }
  return out;
}

// One ablation's pushes: every channel alone, then all at once.
AblationPushes pushes_under(const MazePolicy& policy, const std::string& layer, const DecisionSquareMazes& sm,
                            const at::Tensor& obs, const at::Tensor& gap, const at::Tensor& acts,
                            const at::Tensor& grads, const AblationMaps& maps, Ablation a) {
  torch::NoGradGuard no_grad;
  const auto push_with = [&](int64_t channel) {
    ActivationTaps taps;
    taps.add_patch(layer, [&, channel](const at::Tensor& x) { return ablate(x, a, channel, maps); });
    return gap - gap_of(sm, policy.forward(obs, &taps).probs).to(at::kDouble);
  };
  AblationPushes p;
  p.ablation = a;
  p.all_channels = to_vector(push_with(-1));
  // The first-order estimate of each channel's push: dd/da . (a - replacement), summed over its positions.
  const at::Tensor taylor = grads * (acts - ablate(acts, a, -1, maps));
  const int64_t channels = acts.size(1), mazes = acts.size(0);
  at::Tensor sum = torch::zeros({mazes}, at::kDouble);
  Progress progress("pushes (" + ablation_name(a) + ")");
  for (int64_t c = 0; c < channels; ++c) {
    progress.update(c, channels, "channels");
    const at::Tensor push = push_with(c);
    sum += push;
    p.by_channel.push_back(to_vector(push));
    p.gradient_x_activation.push_back(to_vector(taylor.select(1, c).reshape({mazes, -1}).sum(1)));
  }
  progress.settle(channels, channels, "channels");
  p.sum_of_single = to_vector(sum);
  return p;
}

}  // namespace

std::string ablation_name(Ablation a) {
  switch (a) {
    case Ablation::kZero:
      return "zero";
    case Ablation::kMean:
      return "mean";
    case Ablation::kResample:
      return "resample";
  }
  return "?";
}

std::vector<Ablation> parse_ablations(const std::string& text) {
  if (text == "all") return {Ablation::kZero, Ablation::kMean, Ablation::kResample};
  for (Ablation a : {Ablation::kZero, Ablation::kMean, Ablation::kResample})
    if (text == ablation_name(a)) return {a};
  throw InputError("--ablation " + text + ": expected zero, mean, resample or all");
}

std::vector<int64_t> resample_donors(int64_t mazes, uint64_t seed) {
  if (mazes < 2)
    throw InputError("pushes: " + std::to_string(mazes) +
                     " maze(s) with a decision square among the seeds; the study needs at least 2");
  std::vector<int64_t> order(static_cast<size_t>(mazes));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(mix_seed(seed, kDonorStream));
  rng.shuffle(order);
  std::vector<int64_t> donor(order.size());
  for (size_t k = 0; k < order.size(); ++k) donor[static_cast<size_t>(order[k])] = order[(k + 1) % order.size()];
  return donor;
}

AblationMaps ablation_maps(const at::Tensor& activations, uint64_t seed) {
  AblationMaps m;
  m.donor = resample_donors(activations.size(0), seed);
  m.mean = activations.mean(0, /*keepdim=*/true);
  m.resampled = activations.index_select(0, torch::tensor(m.donor, at::kLong));
  return m;
}

at::Tensor ablate(const at::Tensor& activations, Ablation a, int64_t channel, const AblationMaps& maps) {
  at::Tensor y = activations.clone();
  at::Tensor target = channel < 0 ? y : y.select(1, channel);
  const auto of_channel = [channel](const at::Tensor& t) { return channel < 0 ? t : t.select(1, channel); };
  switch (a) {
    case Ablation::kZero:
      target.zero_();
      break;
    case Ablation::kMean:
      target.copy_(of_channel(maps.mean).expand_as(target));
      break;
    case Ablation::kResample:
      target.copy_(of_channel(maps.resampled));
      break;
  }
  return y;
}

PushStudy measure_pushes(const MazePolicy& policy, const std::string& layer, const std::vector<MazeLayout>& levels,
                         const std::vector<Ablation>& ablations, uint64_t seed) {
  policy.layer_shape(layer);  // checks the name
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  resample_donors(static_cast<int64_t>(sm.mazes.size()), seed);  // checks there are at least 2
  PushStudy s;
  s.layer = layer;
  s.mazes = static_cast<int64_t>(sm.mazes.size());
  s.left_out = sm.left_out;
  s.seed = seed;
  std::vector<MazeInput> inputs;
  for (size_t i = 0; i < sm.mazes.size(); ++i) inputs.push_back({sm.mazes[i], sm.squares[i].cell});
  const at::Tensor obs = policy.observations(inputs);

  // The plain pass with gradients of d with respect to the layer's activation.
  at::Tensor acts, grads;
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
  const AblationMaps maps = ablation_maps(acts, seed);
  const at::Tensor gap = torch::tensor(s.gap, at::kDouble);
  for (Ablation a : ablations) s.pushes.push_back(pushes_under(policy, layer, sm, obs, gap, acts, grads, maps, a));
  return s;
}

std::string verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kCheese:
      return "cheese";
    case Verdict::kTopRight:
      return "top_right";
    case Verdict::kNone:
      break;
  }
  return "none";
}

std::vector<PushTest> test_pushes(const std::vector<std::vector<double>>& pushes, double alpha) {
  std::vector<PushTest> out;
  std::vector<double> p;
  for (const auto& row : pushes) {
    const std::vector<double> values = finite_values(row);
    PushTest t;
    t.mean = finite_mean(values);
    const double half = t_interval95(values);
    t.ci95_lo = t.mean - half;
    t.ci95_hi = t.mean + half;
    // A channel that changes nothing (a dead one) pushes exactly 0 in every maze: p = 1 (no
    // evidence of a push) where a t statistic would be 0 / 0.
    t.p = one_sample_t_p(values);
    p.push_back(t.p);
    out.push_back(t);
  }
  const std::vector<double> adjusted = holm_adjusted(p);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].p_holm = adjusted[i];
    if (adjusted[i] < alpha && out[i].mean != 0)
      out[i].verdict = out[i].mean > 0 ? Verdict::kCheese : Verdict::kTopRight;
  }
  return out;
}

std::vector<std::vector<PushTest>> test_study(const PushStudy& s, double alpha) {
  std::vector<std::vector<std::vector<double>>> cube;
  for (const auto& a : s.pushes) cube.push_back(a.by_channel);
  return test_cube(cube, alpha);
}

std::vector<int64_t> channels_with(const std::vector<PushTest>& tests, Verdict v) {
  std::vector<std::pair<double, int64_t>> found;
  for (size_t c = 0; c < tests.size(); ++c)
    if (tests[c].verdict == v) found.push_back({-std::abs(tests[c].mean), static_cast<int64_t>(c)});
  std::sort(found.begin(), found.end());
  std::vector<int64_t> out;
  for (const auto& f : found) out.push_back(f.second);
  return out;
}

int64_t surviving(const std::vector<PushTest>& tests) {
  return std::count_if(tests.begin(), tests.end(), [](const PushTest& t) { return t.verdict != Verdict::kNone; });
}

std::vector<std::vector<int64_t>> shuffled_channel_null(const PushStudy& s, double alpha, int64_t shuffles,
                                                        uint64_t seed) {
  Rng rng(mix_seed(seed, kShuffleStream));
  std::vector<std::vector<int64_t>> out(s.pushes.size());
  std::vector<double> column;
  for (int64_t k = 0; k < shuffles; ++k) {
    std::vector<std::vector<std::vector<double>>> cube;
    for (const auto& a : s.pushes) {
      std::vector<std::vector<double>> m = a.by_channel;
      for (int64_t maze = 0; maze < s.mazes; ++maze) {
        column.clear();
        for (const auto& row : m) column.push_back(row[static_cast<size_t>(maze)]);
        rng.shuffle(column);
        for (size_t c = 0; c < m.size(); ++c) m[c][static_cast<size_t>(maze)] = column[c];
      }
      cube.push_back(std::move(m));
    }
    const auto tests = test_cube(cube, alpha);
    for (size_t a = 0; a < tests.size(); ++a) out[a].push_back(surviving(tests[a]));
  }
  return out;
}

}  // namespace shardlab::analysis
