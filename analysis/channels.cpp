#include "analysis/channels.h"

#include <torch/torch.h>

#include <Eigen/Dense>
#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"

namespace shardlab::analysis {
namespace {

// Held-out R^2 of a ridge regression from features X to targets Y (columns), averaged over columns.
double ridge_r2(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int64_t train_rows, double lambda) {
  const int64_t n = x.rows(), test_rows = n - train_rows;
  if (train_rows < 2 || test_rows < 2) return std::nan("");
  Eigen::MatrixXd xb(n, x.cols() + 1);
  xb << x, Eigen::VectorXd::Ones(n);
  const Eigen::MatrixXd xt = xb.topRows(train_rows);
  Eigen::MatrixXd gram = xt.transpose() * xt;
  gram.diagonal().array() += lambda;
  const Eigen::MatrixXd beta = gram.ldlt().solve(xt.transpose() * y.topRows(train_rows));
  const Eigen::MatrixXd pred = xb.bottomRows(test_rows) * beta;
  const Eigen::MatrixXd truth = y.bottomRows(test_rows);
  double r2 = 0;
  for (int64_t j = 0; j < y.cols(); ++j) {
    const double mean = truth.col(j).mean();
    const double ss_tot = (truth.col(j).array() - mean).square().sum();
    const double ss_res = (truth.col(j) - pred.col(j)).squaredNorm();
    r2 += ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  }
  return r2 / static_cast<double>(y.cols());
}

// Mean total variation distance between rows of two (N, 5) probability tensors.
double mean_tv(const at::Tensor& a, const at::Tensor& b) { return (0.5 * (a - b).abs().sum(1)).mean().item<double>(); }

}  // namespace

std::vector<ChannelScore> rank_cheese_channels(const MazePolicy& policy, const std::string& layer,
                                               const std::vector<MazeLayout>& levels) {
  const auto shape = policy.layer_shape(layer);
  if (shape.size() != 3) throw InputError("layer " + layer + " is not spatial: channels need channels x h x w");
  std::vector<MazeLayout> mazes;
  for (const auto& l : levels)
    if (l.has_cheese()) mazes.push_back(l);
  if (mazes.size() < 10)
    throw InputError("--seeds: need at least 10 mazes with cheese to rank channels, got " +
                     std::to_string(mazes.size()));
  const int64_t n = static_cast<int64_t>(mazes.size()), c = shape[0], h = shape[1], w = shape[2];
  const at::Tensor acts = policy.activations(at_start(mazes), layer).to(torch::kFloat64).contiguous();
  auto a = acts.accessor<double, 4>();
  std::vector<std::pair<int64_t, int64_t>> cheese_pos;
  Eigen::MatrixXd target(n, 2);
  for (int64_t i = 0; i < n; ++i) {
    cheese_pos.push_back(policy.activation_position(layer, mazes[i].cheese));
    target(i, 0) = mazes[i].cheese.x;
    target(i, 1) = mazes[i].cheese.y;
  }
  const int64_t train_rows = n * 4 / 5;

  std::vector<ChannelScore> scores;
  Progress progress("channels");
  for (int64_t ch = 0; ch < c; ++ch) {
    progress.update(ch, c, "");
    ChannelScore s;
    s.channel = ch;
    double at_sum = 0, else_sum = 0;
    int64_t hits = 0, else_count = 0;
    Eigen::MatrixXd features(n, h * w);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best_r = 0, best_c = 0;
      for (int64_t r = 0; r < h; ++r)
        for (int64_t col = 0; col < w; ++col) {
          const double v = a[i][ch][r][col];
          features(i, r * w + col) = v;
          if (v > a[i][ch][best_r][best_c]) best_r = r, best_c = col;
          if (r == cheese_pos[i].first && col == cheese_pos[i].second) {
            at_sum += v;
          } else {
            else_sum += v;
            ++else_count;
          }
        }
      if (std::abs(best_r - cheese_pos[i].first) <= 1 && std::abs(best_c - cheese_pos[i].second) <= 1) ++hits;
    }
    s.peak_hit_rate = static_cast<double>(hits) / static_cast<double>(n);
    s.mean_at_cheese = at_sum / static_cast<double>(n);
    s.mean_elsewhere = else_count ? else_sum / static_cast<double>(else_count) : 0.0;
    s.probe_r2 = ridge_r2(features, target, train_rows, 1.0);
    scores.push_back(s);
  }
  progress.settle(c, c, "");
  std::stable_sort(scores.begin(), scores.end(), [](const ChannelScore& x, const ChannelScore& y) {
    if (x.peak_hit_rate != y.peak_hit_rate) return x.peak_hit_rate > y.peak_hit_rate;
    return x.probe_r2 > y.probe_r2;
  });
  return scores;
}

Protocol parse_protocol(const std::string& text) {
  if (text == "reference") return Protocol::kReference;
  if (text == "ours") return Protocol::kOurs;
  throw InputError("--protocol " + text + ": expected reference or ours");
}

const char* protocol_name(Protocol p) { return p == Protocol::kReference ? "reference" : "ours"; }

double vector_field_change_percent(const at::Tensor& original, const at::Tensor& patched) {
  const int64_t cells = original.size(0);
  if (cells == 0) return std::nan("");
  const at::Tensor moves = (patched - original).slice(1, 0, 4).to(torch::kFloat64);  // no-op has no arrow
  return 100.0 * moves.norm().item<double>() / static_cast<double>(cells) / 2.0;
}

MazeInput reference_source(const MazePolicy& policy, uint32_t target_seed, const Cell* cheese_cell, Rng& rng) {
  for (int tries = 0; tries < 100000; ++tries) {
    const uint32_t s = rng.uniform_int(2147483647u);  // a level seed in [0, 2^31 - 1)
    if (s == target_seed) continue;
    auto level = policy.level(s);
    if (!level) continue;
    if (cheese_cell) {
      if (!level->is_free(*cheese_cell) || *cheese_cell == level->start) continue;
      level->cheese = *cheese_cell;
    }
    std::vector<Cell> cells;
    for (const Cell c : free_cells(*level))
      if (c != level->cheese) cells.push_back(c);
    const Cell mouse = cells[rng.uniform_u64(cells.size())];
    return {*level, mouse};
  }
  throw InputError("resample: no source level found for maze " + std::to_string(target_seed));
}

std::vector<InterventionResult> intervene_on_channels(const MazePolicy& policy, const std::string& layer,
                                                      const std::vector<int64_t>& channels,
                                                      const std::vector<MazeLayout>& levels, int random_sets,
                                                      uint64_t seed, Protocol protocol, int64_t* mazes_used,
                                                      int64_t max_batch) {
  policy.check_channels(layer, channels);
  const auto shape = policy.layer_shape(layer);
  if (channels.empty() || static_cast<int64_t>(channels.size()) >= shape[0])
    throw InputError("--channels: expected between 1 and " + std::to_string(shape[0] - 1) + " channels");
  std::vector<MazeLayout> mazes;
  for (const auto& l : levels)
    if (l.has_cheese()) mazes.push_back(l);
  if (mazes.size() < 2) throw InputError("--seeds: need at least 2 mazes with cheese");

  Rng rng(seed);
  std::vector<int64_t> rest;
  for (int64_t ch = 0; ch < shape[0]; ++ch)
    if (std::find(channels.begin(), channels.end(), ch) == channels.end()) rest.push_back(ch);
  std::vector<std::vector<int64_t>> random;
  for (int s = 0; s < random_sets; ++s) {
    rng.shuffle(rest);
    const size_t k = std::min(channels.size(), rest.size());
    random.emplace_back(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(k));
  }

  // The studied mazes and, per channel set, the resampled values (mazes, C, H, W) of each
  // condition: only the set's channels are read from them.
  const size_t n = mazes.size();
  std::vector<MazeLayout> studied;
  std::vector<at::Tensor> same_values, other_values;  // per set: [chosen, random...]
  if (protocol == Protocol::kOurs) {
    // Maze m takes maze m+1's activations (mouse at the start), with the cheese moved onto m's
    // cheese cell when that cell is free there (same), or as it is (other).
    std::vector<MazeLayout> same, other;
    for (size_t m = 0; m < n; ++m) {
      for (size_t k = 1; k < n; ++k) {
        MazeLayout src = mazes[(m + k) % n];
        if (src.is_free(mazes[m].cheese) && mazes[m].cheese != src.start && src.cheese != mazes[m].cheese) {
          other.push_back(src);
          src.cheese = mazes[m].cheese;
          same.push_back(src);
          studied.push_back(mazes[m]);
          break;
        }
      }
    }
    if (studied.empty()) throw InputError("--seeds: no pair of mazes shares a free cheese cell; use more seeds");
    const at::Tensor same_acts = policy.activations(at_start(same), layer, max_batch);
    const at::Tensor other_acts = policy.activations(at_start(other), layer, max_batch);
    same_values.assign(1 + random.size(), same_acts);
    other_values.assign(1 + random.size(), other_acts);
  } else {
    studied = mazes;
    std::vector<std::vector<int64_t>> sets = {channels};
    sets.insert(sets.end(), random.begin(), random.end());
    Progress progress("resample sources");
    for (size_t si = 0; si < sets.size(); ++si) {
      progress.update(static_cast<int64_t>(si), static_cast<int64_t>(sets.size()), "channel sets");
      for (const bool same_cheese : {true, false}) {
        // One source per (maze, channel), as patch_utils.get_random_patch draws one per channel.
        std::vector<MazeInput> sources;
        for (const auto& target : studied)
          for (size_t k = 0; k < sets[si].size(); ++k)
            sources.push_back(reference_source(policy, target.level_seed, same_cheese ? &target.cheese : nullptr, rng));
        const at::Tensor acts = policy.activations(sources, layer, max_batch);  // (mazes * k, C, H, W)
        at::Tensor values =
            torch::zeros({static_cast<int64_t>(studied.size()), shape[0], shape[1], shape[2]}, acts.options());
        for (size_t m = 0; m < studied.size(); ++m)
          for (size_t k = 0; k < sets[si].size(); ++k)
            values[static_cast<int64_t>(m)][sets[si][k]] =
                acts[static_cast<int64_t>(m * sets[si].size() + k)][sets[si][k]];
        (same_cheese ? same_values : other_values).push_back(values);
      }
    }
    progress.settle(static_cast<int64_t>(sets.size()), static_cast<int64_t>(sets.size()), "channel sets");
  }
  if (mazes_used) *mazes_used = static_cast<int64_t>(studied.size());

  const at::Tensor mean_acts = policy.activations(at_start(studied), layer, max_batch).mean(0);
  const at::Tensor zeros = torch::zeros_like(mean_acts);
  // The cells: the vector field's (no arrow on the cheese) for the reference, every free cell for ours.
  std::vector<int64_t> maze_of;
  std::vector<MazeInput> inputs;
  for (size_t m = 0; m < studied.size(); ++m)
    for (const Cell c : free_cells(studied[m]))
      if (protocol == Protocol::kOurs || c != studied[m].cheese) {
        inputs.push_back({studied[m], c});
        maze_of.push_back(static_cast<int64_t>(m));
      }

  // Every (intervention, channel set) pair: the chosen channels first, then the random sets.
  const std::vector<std::string> interventions = {"zero", "mean", "resample_same_cheese", "resample_other_cheese"};
  struct Condition {
    std::vector<int64_t> set;
    at::Tensor values;  // (mazes, C, H, W) per maze, or (C, H, W) for every input
  };
  std::vector<Condition> conditions;
  for (const auto& name : interventions)
    for (size_t s = 0; s <= random.size(); ++s) {
      const std::vector<int64_t>& set = s == 0 ? channels : random[s - 1];
      if (name == "zero") conditions.push_back({set, zeros});
      if (name == "mean") conditions.push_back({set, mean_acts});
      if (name == "resample_same_cheese") conditions.push_back({set, same_values[s]});
      if (name == "resample_other_cheese") conditions.push_back({set, other_values[s]});
    }

  // The plain policy and every condition's patched policy on every input, in chunks: the patch
  // replaces the set's channels of batch element b with its maze's values (input begin + b).
  Progress progress("resample");
  const int64_t total = static_cast<int64_t>(inputs.size());
  const std::vector<at::Tensor> probs = policy.in_chunks(
      inputs,
      [&](const at::Tensor& obs, int64_t begin, int64_t end) {
        progress.update(begin, total, "inputs, every condition");
        const at::Tensor index = torch::tensor(std::vector<int64_t>(maze_of.begin() + begin, maze_of.begin() + end),
                                               torch::kInt64);
        std::vector<at::Tensor> out = {policy.forward(obs).probs};
        for (const Condition& c : conditions) {
          const at::Tensor ch = torch::tensor(c.set, torch::kInt64);
          const at::Tensor per_input = c.values.dim() == 4 ? c.values.index_select(0, index) : c.values.unsqueeze(0);
          ActivationTaps taps;
          taps.add_patch(layer, [ch, per_input](const at::Tensor& x) {
            at::Tensor y = x.clone();
            const at::Tensor source = per_input.size(0) == 1 ? per_input.expand_as(x) : per_input;
            y.index_copy_(1, ch, source.index_select(1, ch).to(x.dtype()));
            return y;
          });
          out.push_back(policy.forward(obs, &taps).probs);
        }
        return out;
      },
      max_batch);
  progress.settle(total, total, "inputs, every condition");
  const at::Tensor& plain = probs[0];

  // The mean total variation and the reference's percent (mean over mazes) of one condition.
  const auto change_of = [&](const at::Tensor& patched) {
    double percent = 0;
    int64_t begin = 0;
    for (size_t m = 0; m < studied.size(); ++m) {
      int64_t end = begin;
      while (end < static_cast<int64_t>(maze_of.size()) && maze_of[end] == static_cast<int64_t>(m)) ++end;
      percent += vector_field_change_percent(plain.slice(0, begin, end), patched.slice(0, begin, end));
      begin = end;
    }
    return std::make_pair(mean_tv(patched, plain), percent / static_cast<double>(studied.size()));
  };

  std::vector<InterventionResult> out;
  size_t next = 1;  // probs[next]: the next condition's
  for (const auto& name : interventions) {
    InterventionResult r;
    r.intervention = name;
    std::tie(r.tv_channels, r.percent_channels) = change_of(probs[next++]);
    double tv_sum = 0, percent_sum = 0;
    for (size_t s = 0; s < random.size(); ++s) {
      const auto [tv, percent] = change_of(probs[next++]);
      tv_sum += tv;
      percent_sum += percent;
    }
    r.tv_random = random.empty() ? std::nan("") : tv_sum / static_cast<double>(random.size());
    r.percent_random = random.empty() ? std::nan("") : percent_sum / static_cast<double>(random.size());
    out.push_back(r);
  }
  return out;
}

}  // namespace shardlab::analysis
