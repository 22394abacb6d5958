#include "offline/offline_run.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "offline/dataset.h"
#include "offline/learner.h"

namespace shardlab {
namespace {

// Random streams of an offline run, apart from the learners' initial weights (stream 0).
constexpr uint64_t kInitStream = 0x0FF1;
constexpr uint64_t kBatchStream = 0xBA7C;
constexpr uint64_t kRelabelStream = 0x4E1A;

double metadata_number(const std::map<std::string, std::string>& metadata, const std::string& key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return std::nan("");
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return std::nan("");
  }
}

std::string format_score(double v) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

}  // namespace

void OfflineConfig::declare_keys(SpecSchema& s) {
  const OfflineConfig d;
  s.add_string("offline.dataset", d.dataset, "experience file to learn from (D4RL layout; `shardlab dataset make`)");
  s.add_string("offline.reward", d.reward,
               "reward labels: true, zero, random (U[0, 1) per transition, from run.seed) or negative",
               {"true", "zero", "random", "negative"});
  s.add_string("offline.env", d.env,
               "evaluation environment: dataset (the env.* keys the file records) or spec (this spec's env.*)",
               {"dataset", "spec"});
  s.add_int("offline.steps", d.steps, "gradient steps").at_least(1);
  s.add_int("offline.batch_size", d.batch_size, "transitions per gradient step (per rank when data-parallel)").at_least(1);
  s.add_int("offline.log_every", d.log_every, "gradient steps per metrics.csv row (and per checkpoint count)")
      .at_least(1);
  s.add_int("offline.eval_every", d.eval_every, "gradient steps between evaluations (the last step always evaluates)")
      .at_least(1);
  s.add_int("offline.eval_episodes", d.eval_episodes, "episodes per evaluation (0: never evaluate)").at_least(0);
  s.add_bool("offline.eval_greedy", d.eval_greedy,
             "evaluate the policy's mode (tanh of the mean, as the references); false samples (the maze: its "
             "stateless greedy policies loop)");
}

OfflineConfig OfflineConfig::from_spec(const Spec& spec) {
  OfflineConfig c;
  c.dataset = spec.get_string("offline.dataset");
  c.reward = spec.get_string("offline.reward");
  c.env = spec.get_string("offline.env");
  c.steps = spec.get_int("offline.steps");
  c.batch_size = spec.get_int("offline.batch_size");
  c.log_every = spec.get_int("offline.log_every");
  c.eval_every = spec.get_int("offline.eval_every");
  c.eval_episodes = spec.get_int("offline.eval_episodes");
  c.eval_greedy = spec.get_bool("offline.eval_greedy");
  return c;
}

void declare_offline_keys(SpecSchema& schema) {
  OfflineConfig::declare_keys(schema);
  declare_offline_learner_keys(schema);
}

double normalized_score(double episode_return, double random_return, double expert_return) {
  if (!std::isfinite(random_return) || !std::isfinite(expert_return) || expert_return == random_return)
    return std::nan("");
  return 100.0 * (episode_return - random_return) / (expert_return - random_return);
}

Spec resolve_offline_spec(const Spec& spec, bool* can_evaluate) {
  const OfflineConfig c = OfflineConfig::from_spec(spec);
  if (c.dataset.empty())
    throw InputError("offline.dataset: an offline run needs a dataset file (--set offline.dataset=FILE.h5)");
  *can_evaluate = c.eval_episodes > 0;
  if (c.env == "spec") return spec;
  const ExperienceReader reader(c.dataset);
  const auto it = reader.metadata().find("spec");
  if (it == reader.metadata().end()) {
    *can_evaluate = false;
    return spec;
  }
  Spec recorded(spec.schema());
  try {
    recorded = Spec::from_text(spec.schema(), it->second, c.dataset + " (metadata/spec)", {});
  } catch (const InputError& e) {
    throw FileError(c.dataset + ": the spec it records does not load in this version: " + e.what());
  }
  Spec resolved = spec;
  for (const auto& [key, value] : recorded.values_under("env."))
    resolved.set(key, value, c.dataset + " (metadata/spec)");
  return resolved;
}

std::string train_offline(const Spec& given, const TrainOptions& options) {
  bool can_evaluate = false;
  const Spec spec = resolve_offline_spec(given, &can_evaluate);
  const OfflineConfig config = OfflineConfig::from_spec(spec);
  const uint64_t seed = static_cast<uint64_t>(spec.get_int("run.seed"));
  const RewardLabel label = parse_reward_label(config.reward, "offline.reward");
  OfflineDataset data = OfflineDataset::load(config.dataset, label, mix_seed(seed, kRelabelStream));

  // The evaluation environment must fit the data.
  const std::string env_name = spec.get_string("env.name");
  ActionSpec action_spec = data.action_spec();  // bounds and counts from the task when there is one
  if (can_evaluate) {
    const auto probe = make_env(spec, 0);
    const ObservationSpec& os = probe->observation_spec();
    const ActionSpec& as = probe->action_spec();
    if (os.shape != data.observation_spec().shape)
      throw InputError(config.dataset + ": observations of shape " + format_shape(data.observation_spec().shape) +
                       ", but environment " + env_name + " has " + format_shape(os.shape));
    const ActionSpec& ds = data.action_spec();
    if (as.discrete != ds.discrete || (as.discrete && as.num_actions < ds.num_actions) ||
        (!as.discrete && as.dim != ds.dim))
      throw InputError(config.dataset + ": its actions (" +
                       (ds.discrete ? std::to_string(ds.num_actions) + " discrete" : std::to_string(ds.dim) + "-dim") +
                       ") do not fit environment " + env_name + "'s (" +
                       (as.discrete ? std::to_string(as.num_actions) + " discrete" : std::to_string(as.dim) + "-dim") +
                       ")");
    action_spec = as;
  } else if (config.eval_episodes > 0) {
    std::cerr << config.dataset << " records no shardlab environment; training without evaluation\n";
  }

  // The actor, and for IQL and ATAC the critics and their targets, at the batch size.
  require_network_memory(spec, data.observation_spec(), action_spec, config.batch_size,
                         spec.get_string("offline.algo") == "bc" ? 1 : 4,
                         "offline.batch_size = " + std::to_string(config.batch_size));
  TrainingRun run(spec, options);
  at::Generator init = at::detail::createCPUGenerator(mix_seed(seed, kInitStream));
  at::Generator batches = at::detail::createCPUGenerator(mix_seed(seed, kBatchStream));
  // run.threads sizes OpenBLAS's pool, which does the matrix products; torch's own intra-op pool
  // stays at one thread: both at two threads contend and run 4x slower (bench/bench_offline.cpp,
  // docs/benchmarks.md). Freed tensors are kept for the next step's.
  at::set_num_threads(1);
  set_blas_threads(static_cast<int>(run.config().threads));
  keep_freed_memory_for_reuse();
  OfflineLearnerContext context{spec, data.observation_spec(), action_spec, run.device(), init, config.steps};
  context.reward_min = data.reward_min();
  context.reward_max = data.reward_max();
  const Collective& ranks = options.ranks;
  context.ranks = ranks;
  std::unique_ptr<OfflineLearner> learner = make_offline_learner(context);
  Checkpoint& checkpoint = run.checkpoint();
  learner->add_parts(checkpoint);
  checkpoint.add("batch_generator", batches);
  run.restore();
  // In a data-parallel run each rank draws its own batches (rank 0 keeps the saved stream).
  if (!ranks.leader())
    batches.set_current_seed(mix_seed(mix_seed(mix_seed(seed, kBatchStream), ranks.rank()), run.update()));

  const double random_return = metadata_number(data.metadata(), "reference_random_return");
  const double expert_return = metadata_number(data.metadata(), "reference_expert_return");
  const std::vector<EpisodeRate> rates = can_evaluate ? find_env(env_name).rates : std::vector<EpisodeRate>{};
  std::vector<std::string> columns = {"global_step", "update", "time_s", "charts/SPS"};
  for (const std::string& m : learner->metrics()) columns.push_back(m);
  for (const char* c : {"charts/episodic_return", "charts/episodic_length", "charts/normalized_score"})
    columns.push_back(c);
  for (const EpisodeRate& r : rates) columns.push_back("charts/" + r.name);
  columns.push_back("time/update_s");
  columns.push_back("time/eval_s");
  const int64_t rows = (config.steps + config.log_every - 1) / config.log_every;
  run.start(columns, {{"algo", spec.get_string("offline.algo")},
                      {"dataset", config.dataset},
                      {"dataset_rows", data.rows()},
                      {"transitions_sampled_from", data.transitions()},
                      {"reward", describe_reward_label(label, mix_seed(seed, kRelabelStream))},
                      {"reward_range", {data.reward_min(), data.reward_max()}},
                      {"steps", config.steps},
                      {"batch_size", config.batch_size}});

  auto evaluate = [&] {
    LoadedPolicy policy;
    policy.net = learner->policy();
    policy.net->eval();
    EvalResult result = evaluate_policy(policy, spec, config.eval_episodes, config.eval_greedy);
    policy.net->train();
    return result;
  };
  auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  auto summary = [&](const EvalResult& result) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(result.to_json());
    j["normalized_score"] = finite(normalized_score(result.mean_return, random_return, expert_return));
    j["reference_random_return"] = finite(random_return);
    j["reference_expert_return"] = finite(expert_return);
    return j;
  };

  int64_t step = run.global_step();
  nlohmann::ordered_json last_eval;
  for (int64_t row_index = run.update() + 1; row_index <= rows; ++row_index) {
    const int64_t row_end = std::min(config.steps, row_index * config.log_every);
    std::map<std::string, double> sums;
    int64_t count = 0;
    const auto update_start = std::chrono::steady_clock::now();
    for (; step < row_end; ++step) {
      const Batch batch = data.sample(config.batch_size, batches, run.device());
      for (const auto& [name, value] : learner->update(batch, step + 1, batches)) sums[name] += value;
      ++count;
    }
    const auto update_end = std::chrono::steady_clock::now();
    std::map<std::string, double> row;
    for (const auto& [name, sum] : sums) row[name] = sum / static_cast<double>(std::max<int64_t>(count, 1));
    if (ranks.distributed()) {  // the losses as the ranks' mean
      const std::vector<std::string> names = learner->metrics();
      std::vector<double> values;
      for (const std::string& m : names) values.push_back(row.count(m) ? row[m] : std::nan(""));
      ranks.sum(values);
      for (size_t i = 0; i < names.size(); ++i)
        if (row.count(names[i])) row[names[i]] = values[i] / static_cast<double>(ranks.world_size());
    }
    row["time/update_s"] = std::chrono::duration<double>(update_end - update_start).count();

    std::string extra;
    const bool last = row_index == rows;
    const bool eval_due = last || (row_end / config.eval_every) > ((row_end - count) / config.eval_every);
    if (can_evaluate && eval_due && ranks.leader()) {
      const EvalResult result = evaluate();
      const double score = normalized_score(result.mean_return, random_return, expert_return);
      row["charts/episodic_return"] = result.mean_return;
      row["charts/episodic_length"] = result.mean_length;
      row["charts/normalized_score"] = score;
      for (const EpisodeRate& r : rates)
        if (result.rates.count(r.name)) row["charts/" + r.name] = result.rates.at(r.name).rate;
      row["time/eval_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_end).count();
      extra = "return " + format_score(result.mean_return) + " score " + format_score(score);
      if (last) last_eval = summary(result);
    }
    row["charts/SPS"] = run.steps_per_second(step);
    run.finish_update(row_index, step, std::move(row), config.steps, extra, last);
  }
  if (!ranks.leader()) return "";
  // A run resumed after its last row but before this file: evaluate the final policy now.
  if (can_evaluate && last_eval.is_null()) last_eval = summary(evaluate());
  nlohmann::ordered_json result;
  result["algo"] = spec.get_string("offline.algo");
  result["reward"] = config.reward;
  result["dataset"] = config.dataset;
  result["seed"] = seed;
  result["steps"] = step;
  result["evaluation"] = last_eval.is_null() ? nlohmann::ordered_json(nullptr) : last_eval;
  write_file_atomically(run.dir().file("result.json"), result.dump(2) + "\n");
  return run.dir().path();
}

}  // namespace shardlab
