// The specs, spaces and random batches the offline-learner tests share
// (tests/test_offline_algorithms.cpp and tests/test_offline_learners.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agents/learner.h"
#include "core/experience.h"
#include "core/spec.h"
#include "experiments/schema.h"

namespace shardlab::test {

inline Spec make_spec(const std::vector<std::pair<std::string, std::string>>& values) {
  Spec spec(shardlab_schema());
  for (const auto& [k, v] : values) spec.set(k, v, "test");
  return spec;
}

inline ObservationSpec vector_obs(int64_t n) {
  ObservationSpec o;
  o.shape = {n};
  o.low = -1;
  o.high = 1;
  return o;
}

inline ActionSpec continuous(int64_t dim) {
  ActionSpec a;
  a.discrete = false;
  a.dim = dim;
  return a;
}

inline ActionSpec discrete(int64_t n) {
  ActionSpec a;
  a.discrete = true;
  a.num_actions = n;
  return a;
}

inline Transitions random_batch(const ObservationSpec& obs, const ActionSpec& act, int64_t n, uint64_t seed) {
  at::Generator g = at::detail::createCPUGenerator(seed);
  std::vector<int64_t> shape = {n};
  shape.insert(shape.end(), obs.shape.begin(), obs.shape.end());
  Transitions b;
  b.observations = at::rand(shape, g, torch::kFloat32);
  b.next_observations = at::rand(shape, g, torch::kFloat32);
  b.actions = act.discrete ? at::randint(act.num_actions, {n}, g, torch::kInt64)
                           : at::rand({n, act.dim}, g, torch::kFloat32) * 1.8 - 0.9;
  b.rewards = at::rand({n}, g, torch::kFloat32);
  b.terminals = (at::rand({n}, g, torch::kFloat32) < 0.2).to(torch::kFloat32);
  return b;
}

// The spec of a small continuous learner (tanh-Gaussian actor, small MLPs).
inline const std::vector<std::pair<std::string, std::string>> kSmallContinuous = {
    {"agent.torso", "mlp"},
    {"agent.hidden", "16"},
    {"agent.mlp_layers", "2"},
    {"agent.mlp_activation", "relu"},
    {"agent.policy_head", "tanh_gaussian"},
    {"atac.hidden", "16"},
    {"atac.layers", "2"},
    {"iql.hidden", "16"},
    {"iql.layers", "2"}};
// A small discrete learner on image observations (the maze's shape, tiny widths).
inline const std::vector<std::pair<std::string, std::string>> kSmallDiscrete = {
    {"agent.torso", "impala"}, {"agent.channels", "4,4"}, {"agent.hidden", "16"}};

inline ObservationSpec image_obs() {
  ObservationSpec o;
  o.shape = {3, 7, 7};
  return o;
}

}  // namespace shardlab::test
