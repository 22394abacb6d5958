#include "agents/train_config.h"

#include "core/spec.h"

namespace shardlab {

void TrainConfig::declare_keys(SpecSchema& s) {
  const TrainConfig d;
  s.add_int("train.total_steps", d.total_steps, "environment steps to train for (all environments)").at_least(1);
  s.add_int("train.num_steps", d.num_steps, "rollout length per environment between updates").at_least(1);
  s.add_float("train.learning_rate", d.learning_rate, "Adam learning rate (epsilon 1e-5)").above(0).at_most(1);
  s.add_bool("train.anneal_lr", d.anneal_lr, "anneal the learning rate linearly to 0");
  s.add_float("train.gamma", d.gamma, "discount factor").above(0).at_most(1);
  s.add_float("train.ent_coef", d.ent_coef, "entropy bonus coefficient").at_least(0);
  s.add_float("train.vf_coef", d.vf_coef, "value loss coefficient (PPO, REINFORCE value baseline)").at_least(0);
  s.add_float("train.max_grad_norm", d.max_grad_norm, "global gradient-norm clip").above(0);
  s.add_bool("train.normalize_reward", d.normalize_reward, "divide rewards by the running std of the discounted return");
  s.add_float("train.reward_clip", d.reward_clip, "clip normalised rewards to +-this").above(0);
  s.add_bool("train.normalize_observations", d.normalize_observations,
             "normalise observations by running mean and std (continuous control)");
  s.add_float("train.observation_clip", d.observation_clip, "clip normalised observations to +-this").above(0);
}

TrainConfig TrainConfig::from_spec(const Spec& spec) {
  TrainConfig c;
  c.total_steps = spec.get_int("train.total_steps");
  c.num_steps = spec.get_int("train.num_steps");
  c.learning_rate = spec.get_float("train.learning_rate");
  c.anneal_lr = spec.get_bool("train.anneal_lr");
  c.gamma = spec.get_float("train.gamma");
  c.ent_coef = spec.get_float("train.ent_coef");
  c.vf_coef = spec.get_float("train.vf_coef");
  c.max_grad_norm = spec.get_float("train.max_grad_norm");
  c.normalize_reward = spec.get_bool("train.normalize_reward");
  c.reward_clip = spec.get_float("train.reward_clip");
  c.normalize_observations = spec.get_bool("train.normalize_observations");
  c.observation_clip = spec.get_float("train.observation_clip");
  return c;
}

}  // namespace shardlab
