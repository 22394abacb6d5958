// The settings every online learner shares: rollouts, optimisation and normalisation (train.*),
// with the reference defaults (CleanRL's procgen PPO; ../shared/reference/ppo.md). The defaults
// live here only; declare_keys() reads them from the struct.
#pragma once

#include <cstdint>
#include <string>

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

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static TrainConfig from_spec(const Spec& spec);
};

}  // namespace shardlab
