// The settings every online learner shares: rollouts, optimisation and normalisation (train.*),
// with the reference defaults (CleanRL's procgen PPO; ../shared/reference/ppo.md). The defaults
// live here only; declare_keys() reads them from the struct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardlab {

class Spec;
class SpecSchema;

struct TrainConfig {
  int64_t total_steps = 1000000;  // environment steps to train for (all environments)
  int64_t num_steps = 256;        // rollout length per environment between updates
  double learning_rate = 5e-4;    // Adam, epsilon 1e-5
  bool anneal_lr = true;          // linearly to 0
  double gamma = 0.999;
  double ent_coef = 0.01;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;
  bool normalize_reward = true;  // divide by the running std of the discounted return
  double reward_clip = 10.0;
  bool normalize_observations = false;
  double observation_clip = 10.0;
  // env.* keys that change during training (a curriculum): "STEP:env.KEY=VALUE;...", steps increasing.
  std::string env_schedule;

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static TrainConfig from_spec(const Spec& spec);
};

// One change of train.env_schedule: from the first update that starts at or after `step`, the
// environments are made anew with `key` = `value`.
struct EnvChange {
  int64_t step = 0;
  std::string key, value;
};

// The changes of train.env_schedule, in order; InputError for malformed text, a key outside env.*,
// a value the key refuses, or steps that do not increase.
std::vector<EnvChange> env_schedule(const Spec& spec);
// The spec as the environments see it once the first `changes` changes have been made.
Spec spec_after_changes(const Spec& spec, const std::vector<EnvChange>& schedule, size_t changes);
// How many changes have been made by environment step `step`.
size_t changes_by(const std::vector<EnvChange>& schedule, int64_t step);

}  // namespace shardlab
