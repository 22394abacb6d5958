#include "offline/dataset.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/rng.h"

namespace shardlab {
namespace {

// The first non-finite value of a float column, as "row R".
void require_finite(const std::string& path, const char* column, const std::vector<float>& values, int64_t row_size) {
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw FileError(path + ": dataset '" + column + "' holds a non-finite value (" + std::to_string(values[i]) +
                      ") at row " + std::to_string(static_cast<int64_t>(i) / row_size));
}

at::Tensor rows_tensor(std::vector<float>& values, const std::vector<int64_t>& row_shape, int64_t rows) {
  std::vector<int64_t> sizes = {rows};
  sizes.insert(sizes.end(), row_shape.begin(), row_shape.end());
  return torch::from_blob(values.data(), sizes, torch::kFloat32).clone();
}

}  // namespace

OfflineDataset OfflineDataset::load(const std::string& path, RewardLabel label, uint64_t relabel_seed) {
  const ExperienceReader reader(path);
  if (reader.rows() == 0) throw FileError(path + ": the file holds no transitions");
  return from_experience(reader.read(0, reader.rows()), reader.next_indices(), label, relabel_seed, path,
                         reader.metadata());
}

OfflineDataset OfflineDataset::from_experience(Experience e, const std::vector<int64_t>& next_index, RewardLabel label,
                                               uint64_t relabel_seed, const std::string& path,
                                               std::map<std::string, std::string> metadata) {
  OfflineDataset d;
  d.path_ = path;
  d.observation_spec_ = e.observation_spec;
  d.action_spec_ = e.action_spec;
  d.metadata_ = std::move(metadata);
  d.rows_ = static_cast<int64_t>(e.size());
  if (d.rows_ == 0) throw FileError(path + ": the file holds no transitions");
  if (!e.has_next_observations() && static_cast<int64_t>(next_index.size()) != d.rows_)
    throw Error(path + ": " + std::to_string(next_index.size()) + " next indices for " + std::to_string(d.rows_) +
                " rows");

  const int64_t obs_size = e.obs_size();
  require_finite(path, "observations", e.observations, obs_size);
  if (e.has_next_observations()) require_finite(path, "next_observations", e.next_observations, obs_size);
  if (!e.action_spec.discrete) require_finite(path, "actions", e.continuous_actions, e.action_spec.dim);
  require_finite(path, "rewards", e.rewards, 1);
  relabel_rewards(label, relabel_seed, 0, e.rewards);

  d.observations_ = rows_tensor(e.observations, d.observation_spec_.shape, d.rows_);
  if (e.has_next_observations())
    d.next_observations_ = rows_tensor(e.next_observations, d.observation_spec_.shape, d.rows_);
  d.actions_ = e.action_spec.discrete ? torch::tensor(e.discrete_actions, torch::kInt64)
                                      : rows_tensor(e.continuous_actions, {e.action_spec.dim}, d.rows_);
  d.rewards_ = torch::tensor(e.rewards, torch::kFloat32);
  std::vector<float> terminals(e.terminals.begin(), e.terminals.end());
  d.terminals_ = torch::tensor(terminals, torch::kFloat32);

  std::vector<int64_t> usable;
  if (e.has_next_observations()) {
    // Every row carries its own next observation; time-limit cuts bootstrap from it.
    usable.resize(static_cast<size_t>(d.rows_));
    for (int64_t i = 0; i < d.rows_; ++i) usable[i] = i;
  } else {
    std::vector<int64_t> next = next_index;
    for (int64_t i = 0; i < d.rows_; ++i)
      if (next[i] != ExperienceReader::kNoNext)
        usable.push_back(i);
      else
        next[i] = i;  // never sampled; any valid row keeps index_select in range
    d.next_index_ = torch::tensor(next, torch::kInt64);
  }
  if (usable.empty())
    throw FileError(path + ": no transition with a known next observation (every episode is cut by a timeout)");
  d.usable_ = torch::tensor(usable, torch::kInt64);
  const at::Tensor used = d.rewards_.index_select(0, d.usable_);
  d.reward_min_ = used.min().item<float>();
  d.reward_max_ = used.max().item<float>();
  return d;
}

uint64_t offline_relabel_seed(uint64_t run_seed) {
  constexpr uint64_t kRelabelStream = 0x4E1A;  // offline runs' relabeling stream
  return mix_seed(run_seed, kRelabelStream);
}

namespace {

// Trajectory returns over rows fed in file order (trajectory_returns).
class TrajectorySplitter {
 public:
  // Row `row` with its (relabeled) reward; `jump`: its observation is not the previous sampled
  // row's next observation.
  void add(int64_t row, double reward, bool jump, bool ends) {
    if (open_ && (row != previous_ + 1 || jump)) close();
    current_ += reward;
    open_ = true;
    previous_ = row;
    if (ends) close();
  }
  std::vector<double> finish() {
    if (open_) close();
    return std::move(returns_);
  }

 private:
  void close() {
    returns_.push_back(current_);
    current_ = 0;
    open_ = false;
  }
  std::vector<double> returns_;
  double current_ = 0;
  bool open_ = false;
  int64_t previous_ = -1;
};

}  // namespace

std::vector<double> trajectory_returns(const std::string& path, RewardLabel label, uint64_t relabel_seed) {
  const ExperienceReader reader(path);
  if (reader.rows() == 0) throw FileError(path + ": the file holds no transitions");
  const bool with_next = reader.has_next_observations();
  const std::vector<int64_t> next = with_next ? std::vector<int64_t>{} : reader.next_indices();
  const auto& terminals = reader.terminals();
  const auto& timeouts = reader.timeouts();
  const int64_t obs_size = reader.observation_spec().size();
  constexpr int64_t kChunkRows = 65536;
  TrajectorySplitter splitter;
  std::vector<float> previous_next;  // the last sampled row's next observation (files that store it)
  for (int64_t begin = 0; begin < reader.rows(); begin += kChunkRows) {
    Experience chunk = reader.read(begin, std::min(kChunkRows, reader.rows() - begin));
    require_finite(path, "rewards", chunk.rewards, 1);
    relabel_rewards(label, relabel_seed, begin, chunk.rewards);
    for (int64_t j = 0; j < static_cast<int64_t>(chunk.size()); ++j) {
      const int64_t i = begin + j;
      if (!with_next && next[i] == ExperienceReader::kNoNext) continue;  // never sampled
      bool jump = false;
      if (with_next) {
        const float* obs = chunk.observations.data() + j * obs_size;
        double squared = 0;
        for (int64_t k = 0; k < obs_size && !previous_next.empty(); ++k)
          squared += (obs[k] - previous_next[k]) * static_cast<double>(obs[k] - previous_next[k]);
        jump = !previous_next.empty() && std::sqrt(squared) > 1e-6;
        previous_next.assign(chunk.next_observations.begin() + j * obs_size,
                             chunk.next_observations.begin() + (j + 1) * obs_size);
      }
      splitter.add(i, chunk.rewards[j], jump, terminals[i] || timeouts[i]);
    }
  }
  return splitter.finish();
}

Transitions OfflineDataset::sample(int64_t size, at::Generator& gen, at::Device device) const {
  const at::Tensor pick = at::randint(usable_.numel(), {size}, gen, torch::kInt64);
  const at::Tensor rows = usable_.index_select(0, pick);
  Transitions b;
  b.observations = observations_.index_select(0, rows);
  b.next_observations = next_observations_.defined() ? next_observations_.index_select(0, rows)
                                                     : observations_.index_select(0, next_index_.index_select(0, rows));
  b.actions = actions_.index_select(0, rows);
  b.rewards = rewards_.index_select(0, rows);
  b.terminals = terminals_.index_select(0, rows);
  if (device != at::Device(at::kCPU)) {
    b.observations = b.observations.to(device);
    b.next_observations = b.next_observations.to(device);
    b.actions = b.actions.to(device);
    b.rewards = b.rewards.to(device);
    b.terminals = b.terminals.to(device);
  }
  return b;
}

at::Tensor OfflineDataset::observation_sample(int64_t size, uint64_t seed) const {
  const int64_t n = usable_.numel();
  if (size >= n) return observations_.index_select(0, usable_);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const at::Tensor pick = at::randperm(n, gen, torch::kInt64).narrow(0, 0, size);
  return observations_.index_select(0, usable_.index_select(0, pick));
}

}  // namespace shardlab
