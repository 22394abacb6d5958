#include "offline/offline_run.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/learner_loop.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "offline/dataset.h"
#include "offline/learner.h"
#include "offline/policy_distance.h"

namespace shardlab {
namespace {

// Random streams of an offline run, apart from the learners' initial weights (stream 0).
constexpr uint64_t kInitStream = 0x0FF1;
constexpr uint64_t kBatchStream = 0xBA7C;
constexpr uint64_t kDistanceStream = 0xD157;
// Dataset states the final policy is compared with its warm start on (all when fewer).
constexpr int64_t kDistanceStates = 10000;
constexpr const char* kKlColumn = "charts/actor_kl_from_warm_start";
constexpr const char* kActionDistanceColumn = "charts/actor_action_distance_from_warm_start";

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

template <class Keys>
void OfflineConfig::bind(Keys& keys) {
  keys("offline.dataset", dataset, "experience file to learn from (D4RL layout; `shardlab dataset make`)");
  keys("offline.reward", reward,
       "reward labels: true, zero, random (U[0, 1) per transition, from run.seed) or negative",
       {"true", "zero", "random", "negative"});
  keys("offline.env", env,
       "evaluation environment: dataset (the env.* keys the file records) or spec (this spec's env.*)",
       {"dataset", "spec"});
  keys("offline.steps", steps, "gradient steps").at_least(1);
  keys("offline.batch_size", batch_size, "transitions per gradient step (per rank when data-parallel)").at_least(1);
  keys("offline.log_every", log_every, "gradient steps per metrics.csv row (and per checkpoint count)").at_least(1);
  keys("offline.eval_every", eval_every, "gradient steps between evaluations (the last step always evaluates)")
      .at_least(1);
  keys("offline.eval_episodes", eval_episodes, "episodes per evaluation (0: never evaluate)").at_least(0);
  keys("offline.eval_greedy", eval_greedy,
       "evaluate the policy's mode (tanh of the mean, as the references); false samples (the maze: its "
       "stateless greedy policies loop)");
}

void OfflineConfig::declare_keys(SpecSchema& s) { declare_keys_of<OfflineConfig>(s); }

OfflineConfig OfflineConfig::from_spec(const Spec& spec) { return read_keys<OfflineConfig>(spec); }

void declare_offline_keys(SpecSchema& schema) {
  OfflineConfig::declare_keys(schema);
  declare_offline_learner_keys(schema);
}

double normalized_score(double episode_return, double random_return, double expert_return) {
  if (!std::isfinite(random_return) || !std::isfinite(expert_return) || expert_return == random_return)
    return std::nan("");
  return 100.0 * (episode_return - random_return) / (expert_return - random_return);
}

OfflineThreads offline_threads(const Spec& spec, int64_t threads) {
  const int n = static_cast<int>(threads);
  if (NetworkConfig::from_spec(spec).torso == "impala") return {n, 1};
  return {1, n};
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

namespace {

// Batches sampled from the dataset (checkpoint part "batch_generator"), log_every gradient steps
// a row, and the evaluation columns: the policy's episodes in the task every eval_every steps
// and at the last, on the leader, with the D4RL normalised score when the dataset records its
// reference returns, and, for a learner with a warm start, the policy's distance from it
// (offline/policy_distance.h). Writes result.json at the end.
class DatasetSource : public BatchSource {
 public:
  DatasetSource(const Spec& spec, const OfflineConfig& config, OfflineDataset& data, bool can_evaluate,
                std::string reward, Learner& learner)
      : spec_(spec),
        config_(config),
        data_(data),
        can_evaluate_(can_evaluate),
        reward_(std::move(reward)),
        rates_(can_evaluate ? find_env(spec.get_string("env.name")).rates : std::vector<EpisodeRate>{}),
        random_return_(metadata_number(data.metadata(), "reference_random_return")),
        expert_return_(metadata_number(data.metadata(), "reference_expert_return")) {
    if (learner.warm_start_steps() > 0)
      warm_start_ = std::make_unique<WarmStartPolicy>(learner.policy(), learner.warm_start_steps());
  }

  std::string generator_part() const override { return "batch_generator"; }
  uint64_t generator_stream() const override { return kBatchStream; }
  void add_parts(Checkpoint& checkpoint) override {
    if (warm_start_) warm_start_->add_parts(checkpoint);
  }
  int64_t rows() const override { return (config_.steps + config_.log_every - 1) / config_.log_every; }
  int64_t updates_in_row(int64_t row) const override {
    return std::min(config_.steps, row * config_.log_every) - (row - 1) * config_.log_every;
  }
  int64_t steps_per_update() const override { return 1; }

  std::vector<std::string> columns(const std::vector<std::string>& learner_metrics) const override {
    std::vector<std::string> columns = learner_metrics;
    for (const char* c : {"charts/episodic_return", "charts/episodic_length", "charts/normalized_score"})
      columns.push_back(c);
    for (const EpisodeRate& r : rates_) columns.push_back("charts/" + r.name);
    if (warm_start_) {
      columns.push_back(kKlColumn);
      columns.push_back(kActionDistanceColumn);
    }
    columns.push_back("time/update_s");
    columns.push_back("time/eval_s");
    return columns;
  }

  nlohmann::json facts() const override {
    return {{"algo", spec_.get_string("offline.algo")},
            {"dataset", config_.dataset},
            {"dataset_rows", data_.rows()},
            {"transitions_sampled_from", data_.transitions()},
            {"reward", reward_},
            {"reward_range", {data_.reward_min(), data_.reward_max()}},
            {"steps", config_.steps},
            {"batch_size", config_.batch_size}};
  }

  void start(const TrainingRun& run) override {
    device_ = run.device();
    updates_done_ = run.global_step();  // one step per update
  }

  Batch next(Learner&, at::Generator& gen) override {
    if (warm_start_) warm_start_->observe(updates_done_);
    ++updates_done_;
    return data_.sample(config_.batch_size, gen, device_);
  }

  std::string finish_row(int64_t row, Learner& learner, std::map<std::string, double>& values,
                         const Collective& ranks) override {
    const int64_t row_end = std::min(config_.steps, row * config_.log_every);
    const bool last = row == rows();
    const bool due = last || (row_end / config_.eval_every) > ((row_end - updates_in_row(row)) / config_.eval_every);
    if (warm_start_) warm_start_->observe(row_end);
    if (!due || !ranks.leader()) return "";
    if (const auto distance = warm_start_distance()) {
      values[kKlColumn] = distance->kl;
      values[kActionDistanceColumn] = distance->action_distance;
    }
    if (!can_evaluate_) return "";
    const auto start = std::chrono::steady_clock::now();
    const EvalResult result = evaluate(learner);
    const double score = normalized_score(result.mean_return, random_return_, expert_return_);
    values["charts/episodic_return"] = result.mean_return;
    values["charts/episodic_length"] = result.mean_length;
    values["charts/normalized_score"] = score;
    for (const EpisodeRate& r : rates_)
      if (result.rates.count(r.name)) values["charts/" + r.name] = result.rates.at(r.name).rate;
    values["time/eval_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (last) last_evaluation_ = summary(result);
    return "return " + format_score(result.mean_return) + " score " + format_score(score);
  }

  EvalResult evaluate(Learner& learner) const {
    LoadedPolicy policy;
    policy.net = learner.policy();
    policy.net->eval();
    EvalResult result = evaluate_policy(policy, spec_, config_.eval_episodes, config_.eval_greedy);
    policy.net->train();
    return result;
  }

  // The current policy's distance from its warm start, once the warm start has ended.
  std::optional<PolicyDistance> warm_start_distance() {
    if (!warm_start_ || !warm_start_->taken()) return std::nullopt;
    if (!distance_states_.defined())
      distance_states_ = data_.observation_sample(
          kDistanceStates, mix_seed(static_cast<uint64_t>(spec_.get_int("run.seed")), kDistanceStream));
    if (distance_at_ != updates_done_) distance_ = warm_start_->distance_of_current(distance_states_);
    distance_at_ = updates_done_;
    return distance_;
  }

  // The warm start's length and the final policy's distance from it, for result.json (none
  // without a warm start, or when the run ended within it).
  void add_warm_start_distance(nlohmann::ordered_json& result) {
    const auto distance = warm_start_distance();
    if (!distance) return;
    result["warm_start_steps"] = warm_start_->warm_start_steps();
    result["actor_kl_from_warm_start"] = distance->kl;
    result["actor_action_distance_from_warm_start"] = distance->action_distance;
    result["warm_start_distance_states"] = distance_states_.size(0);
  }

  // The final evaluation for result.json (null when the run cannot evaluate). A run resumed after
  // its last row but before result.json evaluates the final policy now.
  nlohmann::ordered_json final_evaluation(Learner& learner) {
    if (can_evaluate_ && last_evaluation_.is_null()) last_evaluation_ = summary(evaluate(learner));
    return last_evaluation_;
  }

 private:
  nlohmann::ordered_json summary(const EvalResult& result) const {
    auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(result.to_json());
    j["normalized_score"] = finite(normalized_score(result.mean_return, random_return_, expert_return_));
    j["reference_random_return"] = finite(random_return_);
    j["reference_expert_return"] = finite(expert_return_);
    return j;
  }

  const Spec& spec_;
  OfflineConfig config_;
  OfflineDataset& data_;
  bool can_evaluate_;
  std::string reward_;
  std::vector<EpisodeRate> rates_;
  double random_return_, expert_return_;
  at::Device device_ = at::kCPU;
  nlohmann::ordered_json last_evaluation_;
  std::unique_ptr<WarmStartPolicy> warm_start_;  // learners with a warm start only
  int64_t updates_done_ = 0;
  at::Tensor distance_states_;  // drawn at the first comparison
  PolicyDistance distance_;     // the last comparison, made after update distance_at_
  int64_t distance_at_ = -1;
};

// The evaluation environment's specs, which must fit the data's; the data's own when the run
// cannot evaluate.
std::pair<ObservationSpec, ActionSpec> check_environment(const Spec& spec, const OfflineConfig& config,
                                                         const OfflineDataset& data, bool can_evaluate) {
  const std::string env_name = spec.get_string("env.name");
  if (!can_evaluate) {
    if (config.eval_episodes > 0)
      std::cerr << config.dataset << " records no shardlab environment; training without evaluation\n";
    return {data.observation_spec(), data.action_spec()};
  }
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
  return {data.observation_spec(), as};  // bounds and counts from the task
}

}  // namespace

std::string train_offline(const Spec& given, const TrainOptions& options) {
  bool can_evaluate = false;
  const Spec spec = resolve_offline_spec(given, &can_evaluate);
  const OfflineConfig config = OfflineConfig::from_spec(spec);
  const uint64_t seed = static_cast<uint64_t>(spec.get_int("run.seed"));
  const RewardLabel label = parse_reward_label(config.reward, "offline.reward");
  OfflineDataset data = OfflineDataset::load(config.dataset, label, offline_relabel_seed(seed));
  const auto [observations, actions] = check_environment(spec, config, data, can_evaluate);
  const LearnerRegistration& algo = find_learner(offline_learners(), spec, "offline.algo");
  const GradientLoad load = algo.check(spec, config.batch_size);
  require_network_memory(spec, observations, actions, load.samples, load.networks,
                         load.from + " = " + std::to_string(load.samples));

  TrainingRun run(spec, options);
  const OfflineThreads threads = offline_threads(spec, run.config().threads);
  at::set_num_threads(threads.torch);
  set_blas_threads(threads.blas);
  keep_freed_memory_for_reuse();  // freed tensors are kept for the next step's
  at::Generator init = at::detail::createCPUGenerator(mix_seed(seed, kInitStream));
  const std::unique_ptr<Learner> learner = algo.make({spec, observations, actions, run.device(), init, config.steps,
                                                      data.reward_min(), data.reward_max(), options.ranks});
  DatasetSource source(spec, config, data, can_evaluate, describe_reward_label(label, offline_relabel_seed(seed)),
                       *learner);
  run_learner(run, *learner, source);
  if (!options.ranks.leader()) return "";
  nlohmann::ordered_json result;
  result["algo"] = algo.name;
  result["reward"] = config.reward;
  result["dataset"] = config.dataset;
  result["seed"] = seed;
  result["steps"] = run.global_step();
  const nlohmann::ordered_json evaluation = source.final_evaluation(*learner);
  result["evaluation"] = evaluation.is_null() ? nlohmann::ordered_json(nullptr) : evaluation;
  source.add_warm_start_distance(result);
  write_file_atomically(run.dir().file("result.json"), result.dump(2) + "\n");
  return run.dir().path();
}

}  // namespace shardlab
