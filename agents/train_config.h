// Every training hyperparameter in one struct, with the reference defaults (CleanRL's procgen
// PPO; ../shared/reference/ppo.md) and a one-line help each in declare_train_keys().
#pragma once

#include <cstdint>
#include <string>

namespace shardlab {

class Spec;
class SpecSchema;

struct TrainConfig {
  std::string algo = "ppo";  // ppo | reinforce
  int64_t total_steps = 1000000;
  int64_t num_steps = 256;  // rollout length per environment
  double learning_rate = 5e-4;
  bool anneal_lr = true;
  double gamma = 0.999;
  double ent_coef = 0.01;
  double vf_coef = 0.5;
  double max_grad_norm = 0.5;
  bool normalize_reward = true;
  double reward_clip = 10.0;
  bool normalize_observations = false;
  double observation_clip = 10.0;
  // PPO
  double gae_lambda = 0.95;
  int64_t num_minibatches = 8;
  int64_t update_epochs = 3;
  bool norm_adv = true;
  double clip_coef = 0.2;
  bool clip_vloss = true;
  double target_kl = 0.0;  // 0: no early stop
  // REINFORCE
  std::string baseline = "value";  // value | mean | none

  static TrainConfig from_spec(const Spec& spec);
};

// Declares the train.*, ppo.*, reinforce.*, agent.* and run.* keys that training reads.
void declare_train_keys(SpecSchema& schema);

}  // namespace shardlab
