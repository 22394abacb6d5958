#include "agents/evaluate.h"

#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <sstream>

#include "agents/checkpoint.h"
#include "agents/scripted_policy.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/registry.h"
#include "envs/vector_env.h"

namespace shardlab {
namespace {

constexpr uint64_t kEvalStream = 0xE7A1;
constexpr int64_t kMaxEvalEnvs = 64;
// Metrics reported as rates, and their names in the JSON.
const std::map<std::string, std::string> kRateNames = {
    {"reached_cheese", "cheese_rate"},         {"reached_corner", "corner_rate"},
    {"lander/landed", "landed_rate"},          {"lander/crashed", "crashed_rate"},
    {"lander/out_of_bounds", "out_of_bounds_rate"}, {"lander/timeout", "timeout_rate"},
    {"walker/finished", "finished_rate"},      {"walker/fell", "fell_rate"},
    {"walker/out_of_bounds", "out_of_bounds_rate"}, {"walker/timeout", "timeout_rate"}};

}  // namespace

std::string rate_name(const std::string& metric) {
  const auto it = kRateNames.find(metric);
  return it == kRateNames.end() ? "" : it->second;
}

namespace {

// Steps the vector environment with `step` until `episodes` episodes have finished. Each
// environment runs its share of episodes to the end, so short episodes are not over-counted.
std::vector<EpisodeStats> run_episodes(VectorEnv& venv, int64_t episodes, const std::function<void()>& step) {
  const int64_t n = venv.num_envs();
  std::vector<int64_t> quota(n, episodes / n);
  for (int64_t i = 0; i < episodes % n; ++i) ++quota[i];
  std::vector<EpisodeStats> finished;
  std::vector<int64_t> done_count(n, 0);
  while (static_cast<int64_t>(finished.size()) < episodes) {
    step();
    for (const auto& f : venv.finished())
      if (done_count[f.env_index]++ < quota[f.env_index]) finished.push_back(f.stats);
  }
  return finished;
}

EvalResult summarize(const std::vector<EpisodeStats>& finished) {
  EvalResult result;
  result.episodes = static_cast<int64_t>(finished.size());
  double sum = 0, sum_sq = 0, length = 0;
  std::map<std::string, double> successes;
  for (const auto& e : finished) {
    sum += e.episode_return;
    sum_sq += e.episode_return * e.episode_return;
    length += static_cast<double>(e.length);
    for (const auto& [metric, name] : kRateNames) {
      const auto it = e.metrics.find(metric);
      if (it != e.metrics.end()) successes[name] += it->second;
    }
  }
  const double count = static_cast<double>(finished.size());
  result.mean_return = sum / count;
  result.std_return = std::sqrt(std::max(0.0, sum_sq / count - result.mean_return * result.mean_return));
  result.mean_length = length / count;
  for (const auto& [name, k] : successes) result.rates[name] = wilson_interval(k, count);
  return result;
}

}  // namespace

EvalResult::Rate wilson_interval(double k, double n) {
  EvalResult::Rate r;
  if (n <= 0) return r;
  const double z = 1.959963984540054;
  const double p = k / n;
  const double denom = 1 + z * z / n;
  const double centre = (p + z * z / (2 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom;
  r.rate = p;
  r.low = std::max(0.0, centre - half);
  r.high = std::min(1.0, centre + half);
  return r;
}

std::string EvalResult::to_json() const {
  std::ostringstream out;
  out << "{\n  \"episodes\": " << episodes << ",\n  \"mean_return\": " << json_number(mean_return)
      << ",\n  \"std_return\": " << json_number(std_return) << ",\n  \"mean_length\": " << json_number(mean_length);
  for (const auto& [name, r] : rates)
    out << ",\n  \"" << name << "\": " << json_number(r.rate) << ",\n  \"" << name << "_ci95\": ["
        << json_number(r.low) << ", " << json_number(r.high) << "]";
  for (const auto& [key, value] : context) out << ",\n  " << json_string(key) << ": " << json_string(value);
  out << "\n}\n";
  return out.str();
}

EvalResult evaluate_checkpoint(const std::string& run_or_checkpoint, const SpecSchema& schema,
                               const std::vector<std::string>& overrides, int64_t episodes, bool greedy) {
  if (episodes < 1) throw InputError("--episodes " + std::to_string(episodes) + ": expected at least 1");
  const std::string path = resolve_checkpoint(run_or_checkpoint);
  LoadedPolicy policy = load_policy(path, schema);
  const Spec spec = Spec::from_text(schema, policy.state.spec_ini, path + " (spec)", overrides);
  const int64_t n = std::min(episodes, kMaxEvalEnvs);
  VectorEnv venv = make_vector_env(spec, kEvalStream, n);
  if (venv.observation_spec().shape != policy.net->observation_spec().shape)
    throw InputError("the overrides change the observation shape the policy was trained on");
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kEvalStream));
  at::set_num_threads(static_cast<int>(std::max<int64_t>(1, spec.get_int("run.threads"))));

  torch::NoGradGuard no_grad;
  const ActionSpec& act = venv.action_spec();
  const std::vector<EpisodeStats> finished = run_episodes(venv, episodes, [&] {
    const PolicyOutput out = policy.net->forward(policy.prepare(venv.observations(), n));
    const at::Tensor action = (greedy ? greedy_action(*policy.net, out.logits_or_mean)
                                      : sample_action(*policy.net, out.logits_or_mean, gen).action)
                                  .contiguous();
    if (act.discrete) {
      venv.step(action.data_ptr<int64_t>());
    } else {
      const at::Tensor clipped = action.clamp(act.low, act.high).contiguous();
      venv.step(clipped.data_ptr<float>());
    }
  });
  EvalResult result = summarize(finished);
  result.context = {{"checkpoint", path},
                    {"environment", spec.get_string("env.name")},
                    {"policy", greedy ? "greedy" : "sampled"},
                    {"seed", std::to_string(spec.get_int("run.seed"))},
                    {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}};
  std::string set;
  for (const auto& o : overrides) set += (set.empty() ? "" : " ") + o;
  result.context["overrides"] = set;
  if (spec.get_string("env.name") == "maze") result.context["placement"] = spec.get_string("env.placement");
  return result;
}


EvalResult evaluate_scripted(const Spec& spec, const std::string& policy_name, int64_t episodes) {
  if (episodes < 1) throw InputError("--episodes " + std::to_string(episodes) + ": expected at least 1");
  const int64_t n = std::min(episodes, kMaxEvalEnvs);
  VectorEnv venv = make_vector_env(spec, kEvalStream, n);
  const ActionSpec& act = venv.action_spec();
  const std::string env_name = spec.get_string("env.name");
  ScriptedPolicy policy(policy_name, env_name, act,
                        mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kEvalStream + 1));
  const int64_t obs_size = venv.observation_spec().size();
  std::vector<int64_t> discrete(act.discrete ? n : 0);
  std::vector<float> continuous(act.discrete ? 0 : n * act.dim);
  const std::vector<EpisodeStats> finished = run_episodes(venv, episodes, [&] {
    if (act.discrete) {
      policy.act(venv.observations(), obs_size, static_cast<int>(n), discrete.data());
      venv.step(discrete.data());
    } else {
      policy.act(venv.observations(), obs_size, static_cast<int>(n), continuous.data());
      venv.step(continuous.data());
    }
  });
  EvalResult result = summarize(finished);
  result.context = {{"environment", env_name},
                    {"policy", policy_name},
                    {"seed", std::to_string(spec.get_int("run.seed"))},
                    {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}};
  return result;
}

}  // namespace shardlab
