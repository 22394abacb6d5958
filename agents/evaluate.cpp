#include "agents/evaluate.h"

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "agents/run_dir.h"
#include "agents/scripted_policy.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/collection.h"
#include "envs/registry.h"
#include "envs/vector_env.h"

namespace shardlab {
namespace {

constexpr uint64_t kEvalStream = 0xE7A1;
constexpr int64_t kMaxEvalEnvs = 64;

}  // namespace

namespace {

// Steps the vector environment under `policy` until `episodes` episodes have finished. Each
// environment runs its share of episodes to the end, so short episodes are not over-counted.
std::vector<EpisodeStats> run_episodes(VectorEnv& venv, int64_t episodes, const BehaviourPolicy& policy) {
  const int64_t n = venv.num_envs();
  const ActionSpec& act = venv.action_spec();
  std::vector<int64_t> discrete(act.discrete ? n : 0);
  std::vector<float> continuous(act.discrete ? 0 : n * act.dim);
  std::vector<int64_t> quota(n, episodes / n);
  for (int64_t i = 0; i < episodes % n; ++i) ++quota[i];
  std::vector<EpisodeStats> finished;
  std::vector<int64_t> done_count(n, 0);
  Progress progress("eval");
  while (static_cast<int64_t>(finished.size()) < episodes) {
    progress.update(static_cast<int64_t>(finished.size()), episodes, "episodes");
    policy(venv.observations(), static_cast<int>(n), discrete.data(), continuous.data());
    if (act.discrete)
      venv.step(discrete.data());
    else
      venv.step(continuous.data());
    for (const auto& f : venv.finished())
      if (done_count[f.env_index]++ < quota[f.env_index]) finished.push_back(f.stats);
  }
  progress.settle(episodes, episodes, "episodes");
  return finished;
}

EvalResult summarize(const std::vector<EpisodeStats>& finished, const std::vector<EpisodeRate>& rates) {
  EvalResult result;
  result.episodes = static_cast<int64_t>(finished.size());
  double sum = 0, sum_sq = 0, length = 0;
  std::map<std::string, double> successes;
  for (const auto& e : finished) {
    sum += e.episode_return;
    sum_sq += e.episode_return * e.episode_return;
    length += static_cast<double>(e.length);
    for (const EpisodeRate& rate : rates) {
      const auto it = e.metrics.find(rate.stat);
      if (it != e.metrics.end()) successes[rate.name] += it->second;
    }
  }
  const double count = static_cast<double>(finished.size());
  result.mean_return = sum / count;
  result.std_return = std::sqrt(std::max(0.0, sum_sq / count - result.mean_return * result.mean_return));
  result.mean_length = length / count;
  for (const auto& [name, k] : successes) result.rates[name] = wilson_interval(k, count);
  return result;
}

// What an evaluation ran: environment, policy, seed, version and the keys that say which episodes
// were drawn (the environment's summary keys, e.g. the maze's placement and episode limit).
std::map<std::string, std::string> eval_context(const Spec& spec, const std::string& policy) {
  std::map<std::string, std::string> context = {{"environment", spec.get_string("env.name")},
                                                {"policy", policy},
                                                {"seed", std::to_string(spec.get_int("run.seed"))},
                                                {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}};
  for (const std::string& key : find_env(spec.get_string("env.name")).summary_keys) {
    const KeyInfo* info = spec.schema().find(key);
    context[key.substr(key.find('.') + 1)] =
        info->type == KeyType::kString ? spec.get_string(key) : spec.values_under(key).at(key);
  }
  return context;
}

}  // namespace

void declare_eval_keys(SpecSchema& s) {
  s.add_int("eval.episodes", kDefaultEvalEpisodes, "episodes `shardlab eval` runs by default").at_least(1);
  s.add_bool("eval.greedy", false, "evaluate the most likely action instead of sampling");
}

EvalResult::Rate wilson_interval(double k, double n) {
  EvalResult::Rate r;
  if (n <= 0) return r;
  const double z = 1.959963984540054;
  const double p = k / n;
  const double denom = 1 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  r.rate = p;
  // With no successes (or no failures) the bound is exactly 0 (or 1), not a rounding residue.
  r.low = k <= 0 ? 0.0 : std::max(0.0, centre - half);
  r.high = k >= n ? 1.0 : std::min(1.0, centre + half);
  return r;
}

std::string EvalResult::to_json() const {
  // Non-finite numbers are written as null (JSON has no NaN).
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::ordered_json j;
  j["episodes"] = episodes;
  j["mean_return"] = number(mean_return);
  j["std_return"] = number(std_return);
  j["mean_length"] = number(mean_length);
  for (const auto& [name, r] : rates) {
    j[name] = number(r.rate);
    j[name + "_ci95"] = {number(r.low), number(r.high)};
  }
  for (const auto& [key, value] : context) j[key] = value;
  return j.dump(2) + "\n";
}

std::function<void(const float*, int, int64_t*, float*)> policy_behaviour(const LoadedPolicy& policy,
                                                                          at::Generator& gen, bool greedy) {
  return [&policy, &gen, greedy](const float* obs, int count, int64_t* discrete, float* continuous) {
    torch::NoGradGuard no_grad;
    const ActionSpec& act = policy.net->action_spec();
    ActorCritic net = policy.net;  // a handle: forward() is not const
    const PolicyOutput out = net->forward(policy.prepare(obs, count));
    at::Tensor action =
        greedy ? greedy_action(*net, out.logits_or_mean) : sample_action(*net, out.logits_or_mean, gen).action;
    if (act.discrete) {
      action = action.to(torch::kInt64).contiguous();
      std::copy(action.data_ptr<int64_t>(), action.data_ptr<int64_t>() + count, discrete);
    } else {
      action = action.clamp(act.low, act.high).to(torch::kFloat32).contiguous();
      std::copy(action.data_ptr<float>(), action.data_ptr<float>() + count * act.dim, continuous);
    }
  };
}

EvalResult evaluate_policy(const LoadedPolicy& policy, const Spec& spec, int64_t episodes, bool greedy) {
  if (episodes < 1) throw InputError("--episodes " + std::to_string(episodes) + ": expected at least 1");
  const int64_t n = std::min(episodes, kMaxEvalEnvs);
  VectorEnv venv = make_vector_env(spec, kEvalStream, n);
  if (venv.observation_spec().shape != policy.net->observation_spec().shape)
    throw InputError("environment " + spec.get_string("env.name") + " has observations of shape " +
                     format_shape(venv.observation_spec().shape) + ", the policy was trained on " +
                     format_shape(policy.net->observation_spec().shape));
  const ActionSpec& act = venv.action_spec();
  const ActionSpec& trained = policy.net->action_spec();
  if (act.discrete != trained.discrete || act.num_actions != trained.num_actions || act.dim != trained.dim)
    throw InputError("environment " + spec.get_string("env.name") +
                     " has other actions than the policy was trained on");
  at::Generator gen =
      at::detail::createCPUGenerator(mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kEvalStream));
  const std::vector<EpisodeStats> finished = run_episodes(venv, episodes, policy_behaviour(policy, gen, greedy));
  const EnvRegistration& env = find_env(spec.get_string("env.name"));
  EvalResult result = summarize(finished, env.rates);
  result.context = eval_context(spec, greedy ? "greedy" : "sampled");
  return result;
}

void check_policy_overrides(const std::vector<std::string>& overrides, const std::string& flag) {
  for (const std::string& o : overrides) {
    const std::string key = o.substr(0, o.find('='));
    if (key.rfind("env.", 0) != 0 && key != "run.seed" && key != "run.threads")
      throw InputError(flag + " " + shown(key) +
                       ": a trained policy's command uses only env.* keys, run.seed and run.threads (the policy comes "
                       "from its checkpoint)");
  }
}

EvalResult evaluate_checkpoint(const std::string& run_or_checkpoint, const SpecSchema& schema,
                               const std::vector<std::string>& overrides, int64_t episodes, bool greedy) {
  if (episodes < 1) throw InputError("--episodes " + std::to_string(episodes) + ": expected at least 1");
  const std::string path = resolve_checkpoint(run_or_checkpoint);
  LoadedPolicy policy = load_policy(path, schema);
  const Spec spec = Spec::from_text(schema, policy.spec_ini, path + " (spec)", overrides);
  at::set_num_threads(static_cast<int>(std::max<int64_t>(1, spec.get_int("run.threads"))));
  EvalResult result = evaluate_policy(policy, spec, episodes, greedy);
  result.context["checkpoint"] = path;
  std::string set;
  for (const auto& o : overrides) set += (set.empty() ? "" : " ") + o;
  result.context["overrides"] = set;
  return result;
}

EvalResult evaluate_scripted(const Spec& spec, const std::string& policy_name, int64_t episodes) {
  if (episodes < 1) throw InputError("--episodes " + std::to_string(episodes) + ": expected at least 1");
  const int64_t n = std::min(episodes, kMaxEvalEnvs);
  VectorEnv venv = make_vector_env(spec, kEvalStream, n);
  const ActionSpec& act = venv.action_spec();
  const std::string env_name = spec.get_string("env.name");
  const EnvRegistration& env = find_env(env_name);
  ScriptedPolicy policy(policy_name, env, act,
                        mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kEvalStream + 1));
  const std::vector<EpisodeStats> finished =
      run_episodes(venv, episodes, policy.behaviour(venv.observation_spec().size()));
  EvalResult result = summarize(finished, env.rates);
  result.context = eval_context(spec, policy_name);
  return result;
}

}  // namespace shardlab
