#include "agents/train_config.h"

#include "core/spec.h"

namespace shardlab {

template <class Keys>
void TrainConfig::bind(Keys& keys) {
  keys("train.total_steps", total_steps, "environment steps to train for (all environments)").at_least(1);
  keys("train.num_steps", num_steps, "rollout length per environment between updates").at_least(1);
  keys("train.learning_rate", learning_rate, "Adam learning rate (epsilon 1e-5)").above(0).at_most(1);
  keys("train.anneal_lr", anneal_lr, "anneal the learning rate linearly to 0");
  keys("train.gamma", gamma, "discount factor").above(0).at_most(1);
  keys("train.ent_coef", ent_coef, "entropy bonus coefficient").at_least(0);
  keys("train.vf_coef", vf_coef, "value loss coefficient (PPO, REINFORCE value baseline)").at_least(0);
  keys("train.max_grad_norm", max_grad_norm, "global gradient-norm clip").above(0);
  keys("train.normalize_reward", normalize_reward, "divide rewards by the running std of the discounted return");
  keys("train.reward_clip", reward_clip, "clip normalised rewards to +-this").above(0);
  keys("train.normalize_observations", normalize_observations,
       "normalise observations by running mean and std (continuous control)");
  keys("train.observation_clip", observation_clip, "clip normalised observations to +-this").above(0);
}

void TrainConfig::declare_keys(SpecSchema& s) { declare_keys_of<TrainConfig>(s); }

TrainConfig TrainConfig::from_spec(const Spec& spec) { return read_keys<TrainConfig>(spec); }

}  // namespace shardlab
