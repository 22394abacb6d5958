#include "agents/train_config.h"

#include <optional>

#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"

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
  keys("train.env_schedule", env_schedule,
       "env.* keys changed during training, a curriculum: STEP:env.KEY=VALUE separated by ';', steps increasing "
       "(e.g. 3000000:env.placement=top_right_region:2); a change applies from the first update that starts at "
       "or after STEP, with every environment made anew. eval, render and the studies read the spec's own env "
       "keys (the first phase): set the phase you mean with --set");
}

void TrainConfig::declare_keys(SpecSchema& s) { declare_keys_of<TrainConfig>(s); }

TrainConfig TrainConfig::from_spec(const Spec& spec) { return read_keys<TrainConfig>(spec); }

std::vector<EnvChange> env_schedule(const Spec& spec) {
  std::vector<EnvChange> schedule;
  const std::string text = spec.get_string("train.env_schedule");
  if (text.empty()) return schedule;
  Spec probe = spec;
  for (const std::string& item : split(text, ';')) {
    const auto colon = item.find(':');
    const auto eq = item.find('=');
    const auto step = colon == std::string::npos ? std::nullopt : parse_integer(item.substr(0, colon));
    if (!step || eq == std::string::npos || eq < colon)
      throw InputError("train.env_schedule: '" + shown(item) + "': expected STEP:env.KEY=VALUE");
    EnvChange change{*step, item.substr(colon + 1, eq - colon - 1), item.substr(eq + 1)};
    if (change.key.rfind("env.", 0) != 0 || change.key == "env.name" || change.key == "env.num_envs")
      throw InputError("train.env_schedule: '" + shown(item) +
                       "': only env.* keys change during training (not env.name or env.num_envs)");
    if (*step < 1 || (!schedule.empty() && *step <= schedule.back().step))
      throw InputError("train.env_schedule: '" + shown(item) + "': steps must be at least 1 and increase");
    probe.set(change.key, change.value, "train.env_schedule");  // the key's own check
    schedule.push_back(std::move(change));
  }
  return schedule;
}

Spec spec_after_changes(const Spec& spec, const std::vector<EnvChange>& schedule, size_t changes) {
  Spec phase = spec;
  for (size_t i = 0; i < changes && i < schedule.size(); ++i)
    phase.set(schedule[i].key, schedule[i].value, "train.env_schedule");
  return phase;
}

size_t changes_by(const std::vector<EnvChange>& schedule, int64_t step) {
  size_t n = 0;
  while (n < schedule.size() && schedule[n].step <= step) ++n;
  return n;
}

}  // namespace shardlab
