#include "agents/train_config.h"

#include "agents/actor_critic.h"
#include "core/error.h"
#include "core/spec.h"

namespace shardlab {

void declare_train_keys(SpecSchema& s) {
  s.add("agent.algo", KeyType::kString, "ppo", "training algorithm: ppo or reinforce").choices = {"ppo", "reinforce"};
  declare_network_keys(s);
  s.add("train.total_steps", KeyType::kInt, "1000000", "environment steps to train for (all environments)");
  s.add("train.num_steps", KeyType::kInt, "256", "rollout length per environment between updates");
  s.add("train.learning_rate", KeyType::kFloat, "5e-4", "Adam learning rate (epsilon 1e-5)");
  s.add("train.anneal_lr", KeyType::kBool, "true", "anneal the learning rate linearly to 0");
  s.add("train.gamma", KeyType::kFloat, "0.999", "discount factor");
  s.add("train.ent_coef", KeyType::kFloat, "0.01", "entropy bonus coefficient");
  s.add("train.vf_coef", KeyType::kFloat, "0.5", "value loss coefficient (PPO, REINFORCE value baseline)");
  s.add("train.max_grad_norm", KeyType::kFloat, "0.5", "global gradient-norm clip");
  s.add("train.normalize_reward", KeyType::kBool, "true",
        "divide rewards by the running std of the discounted return");
  s.add("train.reward_clip", KeyType::kFloat, "10", "clip normalised rewards to +-this");
  s.add("train.normalize_observations", KeyType::kBool, "false",
        "normalise observations by running mean and std (continuous control)");
  s.add("train.observation_clip", KeyType::kFloat, "10", "clip normalised observations to +-this");
  s.add("ppo.gae_lambda", KeyType::kFloat, "0.95", "GAE lambda");
  s.add("ppo.num_minibatches", KeyType::kInt, "8", "minibatches per epoch (they cover the whole rollout)");
  s.add("ppo.update_epochs", KeyType::kInt, "3", "epochs over each rollout");
  s.add("ppo.norm_adv", KeyType::kBool, "true", "normalise advantages per minibatch");
  s.add("ppo.clip_coef", KeyType::kFloat, "0.2", "surrogate clipping coefficient");
  s.add("ppo.clip_vloss", KeyType::kBool, "true", "clip the value loss like the policy (CleanRL on, SB3 off)");
  s.add("ppo.target_kl", KeyType::kFloat, "0", "stop an update's epochs when approx KL exceeds this (0: off)");
  s.add("reinforce.baseline", KeyType::kString, "value", "REINFORCE baseline: value (learned), mean, none")
      .choices = {"value", "mean", "none"};
  s.add("run.name", KeyType::kString, "", "run folder name under --out (default: the spec file's name)");
  s.add("run.device", KeyType::kString, "cpu", "cpu, or cuda where a CUDA libtorch and a GPU exist")
      .choices = {"cpu", "cuda"};
  s.add("run.checkpoint_every", KeyType::kInt, "10", "updates between checkpoints (the last update always saves)");
  s.add("run.keep_checkpoints", KeyType::kInt, "3", "periodic checkpoints kept (older ones are deleted)");
  s.add("run.save_experience", KeyType::kBool, "false", "write every transition to experience.h5 (D4RL layout)");
  s.add("eval.episodes", KeyType::kInt, "200", "episodes `shardlab eval` runs by default");
  s.add("eval.greedy", KeyType::kBool, "false", "evaluate the most likely action instead of sampling");
}

TrainConfig TrainConfig::from_spec(const Spec& spec) {
  TrainConfig c;
  c.algo = spec.get_string("agent.algo");
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
  c.gae_lambda = spec.get_float("ppo.gae_lambda");
  c.num_minibatches = spec.get_int("ppo.num_minibatches");
  c.update_epochs = spec.get_int("ppo.update_epochs");
  c.norm_adv = spec.get_bool("ppo.norm_adv");
  c.clip_coef = spec.get_float("ppo.clip_coef");
  c.clip_vloss = spec.get_bool("ppo.clip_vloss");
  c.target_kl = spec.get_float("ppo.target_kl");
  c.baseline = spec.get_string("reinforce.baseline");
  auto positive = [](int64_t v, const char* key) {
    if (v < 1) throw InputError(std::string(key) + " = " + std::to_string(v) + ": expected at least 1");
  };
  positive(c.total_steps, "train.total_steps");
  positive(c.num_steps, "train.num_steps");
  positive(c.num_minibatches, "ppo.num_minibatches");
  positive(c.update_epochs, "ppo.update_epochs");
  if (c.learning_rate <= 0) throw InputError("train.learning_rate: expected a positive number");
  if (c.gamma <= 0 || c.gamma > 1) throw InputError("train.gamma: expected 0 < gamma <= 1");
  return c;
}

}  // namespace shardlab
