// `shardlab eval`: a policy's behaviour over N episodes, with 95% intervals for the rates (maze:
// cheese, corner; lunar lander: landed, crashed, out of bounds, timeout; walker: finished, fell, ...).
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

class Spec;
class SpecSchema;
struct LoadedPolicy;

struct EvalResult {
  int64_t episodes = 0;
  double mean_return = 0, std_return = 0, mean_length = 0;
  // Rates of episode metrics (maze: cheese_rate, corner_rate; lander: landed_rate, ...) with Wilson
  // 95% intervals.
  struct Rate {
    double rate = 0, low = 0, high = 0;
  };
  std::map<std::string, Rate> rates;
  std::map<std::string, std::string> context;  // checkpoint, environment, seed, ...
  std::string to_json() const;
};

constexpr int64_t kDefaultEvalEpisodes = 200;

// The eval.* keys: episodes and sampling of `shardlab eval`.
void declare_eval_keys(SpecSchema& schema);

// Refuses (InputError) a --set key that a command running a trained policy (eval, render, the
// studies) would not use: the policy comes from its checkpoint, so only env.* keys, run.seed and
// run.threads change anything. Such a key was once ignored but recorded as if used.
void check_policy_overrides(const std::vector<std::string>& overrides, const std::string& flag);

// Evaluates a checkpoint (or the newest of a run folder) in its own environment spec with
// `overrides` applied (e.g. env.placement=uniform). Each of min(episodes, 64) environments runs
// its share of episodes to the end, so short episodes are not over-counted.
EvalResult evaluate_checkpoint(const std::string& run_or_checkpoint, const SpecSchema& schema,
                               const std::vector<std::string>& overrides, int64_t episodes, bool greedy);

// Evaluates a policy in memory (a checkpoint loaded, or an offline learner's current policy) in
// the spec's environment: the same episodes as evaluate_checkpoint for the same spec.
// InputError when the environment's observations or actions do not fit the policy.
EvalResult evaluate_policy(const LoadedPolicy& policy, const Spec& spec, int64_t episodes, bool greedy);

// A trained policy as a behaviour policy (envs/collection.h): sampled (or greedy) actions,
// continuous ones clipped to the action bounds. `gen` must outlive the returned function.
std::function<void(const float*, int, int64_t*, float*)> policy_behaviour(const LoadedPolicy& policy,
                                                                          at::Generator& gen, bool greedy);

// Evaluates a policy that needs no training (`random`, or `heuristic` for the lunar landers;
// agents/scripted_policy.h) in the spec's environment, min(episodes, 64) environments at once.
EvalResult evaluate_scripted(const Spec& spec, const std::string& policy, int64_t episodes);

// The Wilson score interval for k successes in n trials (95%).
EvalResult::Rate wilson_interval(double successes, double trials);

}  // namespace shardlab
