#include "agents/rollout.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace shardlab {

void EpisodeWindow::add(const EpisodeStats& s) {
  recent.push_back(s);
  if (recent.size() > size) recent.pop_front();
  this_update.push_back(s);
}

double EpisodeWindow::mean(const std::vector<EpisodeStats>& episodes, const std::string& field) {
  if (episodes.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0.0;
  for (const auto& e : episodes) {
    if (field == "return")
      sum += e.episode_return;
    else if (field == "length")
      sum += static_cast<double>(e.length);
    else {
      const auto it = e.metrics.find(field);
      if (it == e.metrics.end()) return std::numeric_limits<double>::quiet_NaN();
      sum += it->second;
    }
  }
  return sum / static_cast<double>(episodes.size());
}

RolloutCollector::RolloutCollector(VectorEnv venv, const TrainConfig& config, at::Device device, Collective ranks)
    : venv_(std::move(venv)),
      config_(config),
      device_(device),
      ranks_(std::move(ranks)),
      obs_stats_(venv_.observation_spec().size()),
      reward_scaler_(venv_.num_envs(), config.gamma, config.reward_clip) {}

at::Tensor RolloutCollector::prepare(const float* obs, int64_t rows, bool update_stats) {
  const auto& shape = venv_.observation_spec().shape;
  std::vector<int64_t> sizes = {rows};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  at::Tensor x = torch::from_blob(const_cast<float*>(obs), sizes, torch::kFloat32).clone();
  if (config_.normalize_observations) {
    if (update_stats) obs_stats_.update(obs, rows, ranks_);
    at::Tensor mean = torch::tensor(obs_stats_.mean, torch::kFloat64).to(torch::kFloat32).reshape(shape);
    at::Tensor var = torch::tensor(obs_stats_.var, torch::kFloat64).to(torch::kFloat32).reshape(shape);
    x = ((x - mean) / (var + 1e-8).sqrt()).clamp(-config_.observation_clip, config_.observation_clip);
  }
  return x.to(device_);
}

void RolloutCollector::save_experience_to(std::unique_ptr<ExperienceWriter> writer) {
  writer_ = std::move(writer);
  assembler_ = std::make_unique<EpisodeAssembler>(venv_.num_envs(), venv_.observation_spec(), venv_.action_spec(),
                                                  venv_.info_names(), false);
}

void RolloutCollector::finish_experience() {
  if (!writer_) return;
  assembler_->cut_unfinished();
  writer_->append(assembler_->take_finished());
  writer_->close();
  writer_.reset();
}

Rollout RolloutCollector::collect(ActorCriticImpl& net, at::Generator& gen, int64_t num_steps) {
  torch::NoGradGuard no_grad;
  const int64_t n = venv_.num_envs();
  const int64_t obs_size = venv_.observation_spec().size();
  const ActionSpec& act = venv_.action_spec();
  const size_t k = venv_.info_names().size();
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);

  Rollout r;
  std::vector<int64_t> obs_shape = {num_steps, n};
  for (int64_t d : venv_.observation_spec().shape) obs_shape.push_back(d);
  r.obs = torch::empty(obs_shape, f32);
  r.actions = act.discrete ? torch::empty({num_steps, n}, torch::kInt64) : torch::empty({num_steps, n, act.dim}, f32);
  r.log_probs = torch::empty({num_steps, n}, f32);
  r.values = torch::empty({num_steps, n}, f32);
  r.rewards = torch::empty({num_steps, n}, f32);
  r.terminated = torch::zeros({num_steps, n}, f32);
  r.truncated = torch::zeros({num_steps, n}, f32);
  r.final_values = torch::zeros({num_steps, n}, f32);

  auto terminated = r.terminated.accessor<float, 2>();
  auto truncated = r.truncated.accessor<float, 2>();
  auto final_values = r.final_values.accessor<float, 2>();
  std::vector<float> raw_obs, clipped, rewards(n);
  std::vector<int64_t> infos(n * k);
  std::vector<uint8_t> done(n);
  for (int64_t t = 0; t < num_steps; ++t) {
    const at::Tensor obs = prepare(venv_.observations(), n, true);
    if (assembler_) {
      raw_obs.assign(venv_.observations(), venv_.observations() + n * obs_size);
      std::copy(venv_.infos(), venv_.infos() + n * k, infos.begin());
    }
    const PolicyOutput out = net.forward(obs);
    const ActionSample sample = sample_action(net, out.logits_or_mean, gen);
    r.obs[t].copy_(obs);
    r.actions[t].copy_(sample.action);
    r.log_probs[t].copy_(sample.log_prob);
    r.values[t].copy_(out.value);

    const at::Tensor action_cpu = sample.action.to(torch::kCPU).contiguous();
    if (act.discrete) {
      venv_.step(action_cpu.data_ptr<int64_t>());
    } else {
      // The environment gets the action clipped to its bounds; the rollout keeps the sample.
      const at::Tensor c = action_cpu.clamp(act.low, act.high).contiguous();
      clipped.assign(c.data_ptr<float>(), c.data_ptr<float>() + n * act.dim);
      venv_.step(clipped.data());
    }

    for (int64_t i = 0; i < n; ++i) {
      rewards[i] = venv_.rewards()[i];
      done[i] = venv_.done(static_cast<int>(i));
      if (assembler_) {
        const float* next = venv_.done(static_cast<int>(i)) ? venv_.final_observations() + i * obs_size
                                                            : venv_.observations() + i * obs_size;
        assembler_->add(static_cast<int>(i), &raw_obs[i * obs_size],
                        act.discrete ? action_cpu.data_ptr<int64_t>() + i : nullptr,
                        act.discrete ? nullptr : &clipped[i * act.dim], rewards[i], venv_.terminated()[i],
                        venv_.truncated()[i], k ? &infos[i * k] : nullptr, next);
      }
    }
    if (assembler_ && assembler_->finished().size() >= 4096) writer_->append(assembler_->take_finished());
    for (const auto& f : venv_.finished()) episodes_.add(f.stats);

    // Truncated episodes bootstrap from the value of the observation they were cut in.
    std::vector<int64_t> cut;
    for (int64_t i = 0; i < n; ++i)
      if (venv_.truncated()[i]) cut.push_back(i);
    if (!cut.empty()) {
      std::vector<float> finals(cut.size() * obs_size);
      for (size_t j = 0; j < cut.size(); ++j)
        std::copy(venv_.final_observations() + cut[j] * obs_size, venv_.final_observations() + (cut[j] + 1) * obs_size,
                  finals.begin() + j * obs_size);
      const at::Tensor v = net.forward(prepare(finals.data(), static_cast<int64_t>(cut.size()), false)).value.cpu();
      for (size_t j = 0; j < cut.size(); ++j) final_values[t][cut[j]] = v[j].item<float>();
    }

    for (int64_t i = 0; i < n; ++i) {
      terminated[t][i] = static_cast<float>(venv_.terminated()[i]);
      truncated[t][i] = static_cast<float>(venv_.truncated()[i]);
    }
    if (config_.normalize_reward) reward_scaler_.scale(rewards.data(), done.data(), static_cast<int>(n), ranks_);
    r.rewards[t].copy_(torch::from_blob(rewards.data(), {n}, f32));
  }
  // Data-parallel: every rank's statistics merge this rollout's rows of all ranks.
  if (config_.normalize_observations) obs_stats_.synchronize(ranks_);
  if (config_.normalize_reward) reward_scaler_.stats.synchronize(ranks_);
  r.next_value = net.forward(prepare(venv_.observations(), n, false)).value.cpu();
  r.values = r.values.cpu();
  r.log_probs = r.log_probs.cpu();
  return r;
}

}  // namespace shardlab
