#include "analysis/resample.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "analysis/steering.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/statistics.h"

namespace shardlab::analysis {
namespace {

// A random level the policy studies (a seed in [0, 2^31 - 1) whose maze size is in the run's range)
// with cheese.
MazeLayout random_level(const MazePolicy& policy, Rng& rng) {
  for (int tries = 0; tries < 100000; ++tries)
    if (auto level = policy.level(rng.uniform_int(2147483647u)); level && level->has_cheese()) return *level;
  throw InputError("resample: no level of the run's maze sizes found in 100000 draws");
}

}  // namespace

MazeInput reference_source(const MazePolicy& policy, uint32_t target_seed, Cell cheese_cell, Rng& rng) {
  for (int tries = 0; tries < 100000; ++tries) {
    MazeLayout level = random_level(policy, rng);
    if (level.level_seed == target_seed) continue;
    // get_random_obs_opts skips a level where the cell is neither empty nor its own cheese's.
    if (!level.is_free(cheese_cell)) continue;
    // The mouse goes on an empty cell of the level as generated (its own cheese cell is not
    // empty), drawn before the cheese moves: it may stand on the moved cheese, as there.
    std::vector<Cell> empty;
    for (const Cell c : free_cells(level))
      if (c != level.cheese) empty.push_back(c);
    const Cell mouse = empty[rng.uniform_u64(empty.size())];
    level.cheese = cheese_cell;
    return {level, mouse};
  }
  throw InputError("resample: no source level with cell (" + std::to_string(cheese_cell.x) + ", " +
                   std::to_string(cheese_cell.y) + ") open found for maze " + std::to_string(target_seed));
}

ReferenceSources reference_sources(const MazePolicy& policy, const MazeLayout& target, size_t channels,
                                   bool same_cheese, Rng& rng) {
  ReferenceSources out;
  if (same_cheese) {
    out.cheese_level_seed = target.level_seed;
    out.cheese = target.cheese;
  } else {
    // resample_activations: np.random.randint(0, 1e8), any level (the target's too).
    const MazeLayout third = random_level(policy, rng);
    out.cheese_level_seed = third.level_seed;
    out.cheese = third.cheese;
  }
  for (size_t k = 0; k < channels; ++k)
    out.sources.push_back(reference_source(policy, target.level_seed, out.cheese, rng));
  return out;
}

namespace {

// Mean total variation distance between rows of two (N, 5) probability tensors.
double mean_tv(const at::Tensor& a, const at::Tensor& b) { return (0.5 * (a - b).abs().sum(1)).mean().item<double>(); }

// `random_sets` random channel sets the size of `channels` (at most), drawn from the layer's other
// channels: one shuffle of the rest per set.
std::vector<std::vector<int64_t>> random_channel_sets(const std::vector<int64_t>& channels, int64_t channel_count,
                                                      int random_sets, Rng& rng) {
  std::vector<int64_t> rest;
  for (int64_t ch = 0; ch < channel_count; ++ch)
    if (std::find(channels.begin(), channels.end(), ch) == channels.end()) rest.push_back(ch);
  std::vector<std::vector<int64_t>> random;
  for (int s = 0; s < random_sets; ++s) {
    rng.shuffle(rest);
    const size_t k = std::min(channels.size(), rest.size());
    random.emplace_back(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return random;
}

// The studied mazes and, per channel set, the resampled values (mazes, C, H, W) of each
// condition: only the set's channels are read from them.
struct ResampledValues {
  std::vector<MazeLayout> studied;
  std::vector<at::Tensor> same, other;  // per set: [chosen, random...]
};

// Protocol::kOurs: maze m takes maze m+1's activations (mouse at the start), with the cheese moved
// onto m's cheese cell when that cell is free there (same), or as it is (other).
ResampledValues neighbour_values(const MazePolicy& policy, const std::string& layer,
                                 const std::vector<MazeLayout>& mazes, size_t set_count, int64_t max_batch) {
  const size_t n = mazes.size();
  ResampledValues out;
  std::vector<MazeLayout> same, other;
  for (size_t m = 0; m < n; ++m) {
    for (size_t k = 1; k < n; ++k) {
      MazeLayout src = mazes[(m + k) % n];
      if (src.is_free(mazes[m].cheese) && mazes[m].cheese != src.start && src.cheese != mazes[m].cheese) {
        other.push_back(src);
        src.cheese = mazes[m].cheese;
        same.push_back(src);
        out.studied.push_back(mazes[m]);
        break;
      }
    }
  }
  if (out.studied.empty()) throw InputError("--seeds: no pair of mazes shares a free cheese cell; use more seeds");
  const at::Tensor same_acts = policy.activations(at_start(same), layer, max_batch);
  const at::Tensor other_acts = policy.activations(at_start(other), layer, max_batch);
  out.same.assign(set_count, same_acts);
  out.other.assign(set_count, other_acts);
  return out;
}

// Protocol::kReference, one channel set and condition: the values (mazes, C, H, W) whose `set`
// channels come from fresh sources, the rest zero.
at::Tensor reference_set_values(const MazePolicy& policy, const std::string& layer, const std::vector<int64_t>& shape,
                                const std::vector<MazeLayout>& studied, const std::vector<int64_t>& set,
                                bool same_cheese, Rng& rng, int64_t max_batch) {
  // One source per (maze, channel), as patch_utils.get_random_patch draws one per channel.
  std::vector<MazeInput> sources;
  for (const auto& target : studied) {
    const ReferenceSources drawn = reference_sources(policy, target, set.size(), same_cheese, rng);
    sources.insert(sources.end(), drawn.sources.begin(), drawn.sources.end());
  }
  const at::Tensor acts = policy.activations(sources, layer, max_batch);  // (mazes * k, C, H, W)
  at::Tensor values =
      torch::zeros({static_cast<int64_t>(studied.size()), shape[0], shape[1], shape[2]}, acts.options());
  for (size_t m = 0; m < studied.size(); ++m)
    for (size_t k = 0; k < set.size(); ++k)
      values[static_cast<int64_t>(m)][set[k]] = acts[static_cast<int64_t>(m * set.size() + k)][set[k]];
  return values;
}

// Protocol::kReference: the mazes with a decision square are studied (cheese_scrubbing.ipynb skips
// the others); each set's sources are drawn same cheese first.
ResampledValues reference_values(const MazePolicy& policy, const std::string& layer, const std::vector<int64_t>& shape,
                                 const std::vector<MazeLayout>& mazes, const std::vector<int64_t>& channels,
                                 const std::vector<std::vector<int64_t>>& random, Rng& rng, int64_t max_batch) {
  ResampledValues out;
  out.studied = decision_square_mazes(mazes).mazes;
  if (out.studied.empty()) throw InputError("--seeds: no maze with a decision square; use more seeds");
  std::vector<std::vector<int64_t>> sets = {channels};
  sets.insert(sets.end(), random.begin(), random.end());
  Progress progress("resample sources");
  for (size_t si = 0; si < sets.size(); ++si) {
    progress.update(static_cast<int64_t>(si), static_cast<int64_t>(sets.size()), "channel sets");
    for (const bool same_cheese : {true, false}) {
      const at::Tensor values =
          reference_set_values(policy, layer, shape, out.studied, sets[si], same_cheese, rng, max_batch);
      (same_cheese ? out.same : out.other).push_back(values);
    }
  }
  progress.settle(static_cast<int64_t>(sets.size()), static_cast<int64_t>(sets.size()), "channel sets");
  return out;
}

// The inputs the change is measured on, and each one's maze (an index into the studied mazes).
struct MeasuredCells {
  std::vector<MazeInput> inputs;
  std::vector<int64_t> maze_of;
};

// The cells: the vector field's (no arrow on the cheese) for the reference, every free cell for ours.
MeasuredCells measured_cells(const std::vector<MazeLayout>& studied, Protocol protocol) {
  MeasuredCells out;
  for (size_t m = 0; m < studied.size(); ++m)
    for (const Cell c : free_cells(studied[m]))
      if (protocol == Protocol::kOurs || c != studied[m].cheese) {
        out.inputs.push_back({studied[m], c});
        out.maze_of.push_back(static_cast<int64_t>(m));
      }
  return out;
}

struct Condition {
  std::vector<int64_t> set;
  at::Tensor values;  // (mazes, C, H, W) per maze, or (C, H, W) for every input
};

// Every (intervention, channel set) pair: the chosen channels first, then the random sets.
std::vector<Condition> intervention_conditions(const std::vector<std::string>& interventions,
                                               const std::vector<int64_t>& channels,
                                               const std::vector<std::vector<int64_t>>& random, const at::Tensor& zeros,
                                               const at::Tensor& mean_acts, const ResampledValues& resampled) {
  std::vector<Condition> conditions;
  for (const auto& name : interventions)
    for (size_t s = 0; s <= random.size(); ++s) {
      const std::vector<int64_t>& set = s == 0 ? channels : random[s - 1];
      if (name == "zero") conditions.push_back({set, zeros});
      if (name == "mean") conditions.push_back({set, mean_acts});
      if (name == "resample_same_cheese") conditions.push_back({set, resampled.same[s]});
      if (name == "resample_other_cheese") conditions.push_back({set, resampled.other[s]});
    }
  return conditions;
}

// The plain policy and every condition's patched policy on every input, in chunks: the patch
// replaces the set's channels of batch element b with its maze's values (input begin + b).
std::vector<at::Tensor> condition_probs(const MazePolicy& policy, const std::string& layer, const MeasuredCells& cells,
                                        const std::vector<Condition>& conditions, int64_t max_batch) {
  const std::vector<int64_t>& maze_of = cells.maze_of;
  Progress progress("resample");
  const int64_t total = static_cast<int64_t>(cells.inputs.size());
  const std::vector<at::Tensor> probs = policy.in_chunks(
      cells.inputs,
      [&](const at::Tensor& obs, int64_t begin, int64_t end) {
        progress.update(begin, total, "inputs, every condition");
        const at::Tensor index =
            torch::tensor(std::vector<int64_t>(maze_of.begin() + begin, maze_of.begin() + end), torch::kInt64);
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
  return probs;
}

// The mean total variation of one condition and the reference's percent of each maze.
std::pair<double, std::vector<double>> condition_change(const at::Tensor& plain, const at::Tensor& patched,
                                                        const std::vector<int64_t>& maze_of, size_t maze_count) {
  std::vector<double> percent;
  int64_t begin = 0;
  for (size_t m = 0; m < maze_count; ++m) {
    int64_t end = begin;
    while (end < static_cast<int64_t>(maze_of.size()) && maze_of[end] == static_cast<int64_t>(m)) ++end;
    percent.push_back(vector_field_change_percent(plain.slice(0, begin, end), patched.slice(0, begin, end)));
    begin = end;
  }
  return std::make_pair(mean_tv(patched, plain), percent);
}

// Each intervention's change on the chosen channels and, averaged, on the random sets. `probs`:
// the plain policy's, then the conditions' in intervention_conditions' order.
std::vector<InterventionResult> intervention_results(const std::vector<std::string>& interventions,
                                                     const std::vector<at::Tensor>& probs,
                                                     const std::vector<int64_t>& maze_of, size_t maze_count,
                                                     size_t random_count) {
  const at::Tensor& plain = probs[0];
  std::vector<InterventionResult> out;
  size_t next = 1;  // probs[next]: the next condition's
  for (const auto& name : interventions) {
    InterventionResult r;
    r.intervention = name;
    std::tie(r.tv_channels, r.percent_channels_per_maze) = condition_change(plain, probs[next++], maze_of, maze_count);
    r.percent_channels = finite_mean(r.percent_channels_per_maze);
    double tv_sum = 0;
    std::vector<double> percent_sum(maze_count, 0.0);
    for (size_t s = 0; s < random_count; ++s) {
      const auto [tv, percent] = condition_change(plain, probs[next++], maze_of, maze_count);
      tv_sum += tv;
      for (size_t m = 0; m < maze_count; ++m) percent_sum[m] += percent[m];
    }
    r.tv_random = random_count == 0 ? std::nan("") : tv_sum / static_cast<double>(random_count);
    for (size_t m = 0; m < maze_count && random_count > 0; ++m)
      r.percent_random_per_maze.push_back(percent_sum[m] / static_cast<double>(random_count));
    r.percent_random = finite_mean(r.percent_random_per_maze);
    out.push_back(r);
  }
  return out;
}

}  // namespace

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
  if (protocol == Protocol::kOurs && mazes.size() < 2) throw InputError("--seeds: need at least 2 mazes with cheese");

  // One generator for the random sets, then (reference) the resampling sources, in that order.
  Rng rng(seed);
  const std::vector<std::vector<int64_t>> random = random_channel_sets(channels, shape[0], random_sets, rng);
  const ResampledValues resampled =
      protocol == Protocol::kOurs ? neighbour_values(policy, layer, mazes, 1 + random.size(), max_batch)
                                  : reference_values(policy, layer, shape, mazes, channels, random, rng, max_batch);
  const std::vector<MazeLayout>& studied = resampled.studied;
  if (mazes_used) *mazes_used = static_cast<int64_t>(studied.size());

  const at::Tensor mean_acts = policy.activations(at_start(studied), layer, max_batch).mean(0);
  const at::Tensor zeros = torch::zeros_like(mean_acts);
  const MeasuredCells cells = measured_cells(studied, protocol);
  const std::vector<std::string> interventions = {"zero", "mean", "resample_same_cheese", "resample_other_cheese"};
  const std::vector<Condition> conditions =
      intervention_conditions(interventions, channels, random, zeros, mean_acts, resampled);
  const std::vector<at::Tensor> probs = condition_probs(policy, layer, cells, conditions, max_batch);
  return intervention_results(interventions, probs, cells.maze_of, studied.size(), random.size());
}

}  // namespace shardlab::analysis
