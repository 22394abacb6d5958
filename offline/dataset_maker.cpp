#include "offline/dataset_maker.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "agents/scripted_policy.h"
#include "agents/trainer.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/metrics_csv.h"
#include "core/rng.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/collection.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "offline/offline_run.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

constexpr uint64_t kCollectStream = 0xDA7A;

struct ExpertTask {
  std::string task, spec_file;
};
const std::vector<ExpertTask>& expert_tasks() {
  static const std::vector<ExpertTask> tasks = {{"bipedal_walker", "ppo_bipedal_walker.ini"},
                                                {"lunar_lander_continuous", "ppo_lander_continuous.ini"},
                                                {"maze", "ppo_maze_demo.ini"}};
  return tasks;
}

int64_t checkpoint_update(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();  // update_0000123
  const auto n = parse_integer(stem.substr(stem.find('_') + 1));
  return n ? *n : -1;
}

// The expert run's spec: the shipped one with every checkpoint kept and every transition saved.
Spec expert_spec(const std::string& task, const DatasetConfig& config, const SpecSchema& schema) {
  std::vector<std::string> overrides = {"run.keep_checkpoints=100000", "run.save_experience=true"};
  if (config.expert_total_steps > 0)
    overrides.push_back("train.total_steps=" + std::to_string(config.expert_total_steps));
  return Spec::load(schema, expert_spec_path(task), overrides);
}

// Trains the expert run, or resumes it when unfinished; returns its folder.
std::string ensure_expert(const std::string& task, const Spec& spec, const DatasetConfig& config) {
  TrainOptions options;
  options.out_root = config.runs;
  options.run_name = task + (config.expert_total_steps > 0 ? "_" + std::to_string(config.expert_total_steps) : "");
  const fs::path dir = fs::path(options.out_root) / options.run_name;
  if (fs::exists(dir / "run.json")) {
    const nlohmann::json run = nlohmann::json::parse(read_text_file((dir / "run.json").string()), nullptr, false);
    RunDir::check_can_open(options.out_root, options.run_name, spec, true);
    const auto newest = RunDir::existing(dir.string()).newest_checkpoint();
    if (!run.is_discarded() && run.contains("num_updates") && newest &&
        checkpoint_update(*newest) >= run["num_updates"].get<int64_t>())
      return dir.string();
    options.resume = true;
    std::cerr << "dataset make: resuming the unfinished expert run " << dir.string() << "\n";
  } else {
    std::cerr << "dataset make: training the " << task << " expert from " << expert_spec_path(task) << " ("
              << spec.get_int("train.total_steps") << " steps; the shipped specs' times are in their comments) into "
              << dir.string() << "\n";
  }
  return train(spec, options);
}

struct References {
  double random_return = 0, expert_return = 0;
};

// The task's reference returns, measured once per expert run and kept in references.json.
References references(const std::string& run_dir, const Spec& spec, const DatasetConfig& config,
                      const SpecSchema& schema) {
  const std::string path = run_dir + "/references.json";
  if (fs::exists(path)) {
    const nlohmann::json j = nlohmann::json::parse(read_text_file(path), nullptr, false);
    if (!j.is_discarded() && j.contains("random_return") && j.contains("expert_return") &&
        j.value("episodes", int64_t{0}) == config.reference_episodes)
      return {j["random_return"].get<double>(), j["expert_return"].get<double>()};
  }
  std::cerr << "dataset make: measuring the random and expert returns over " << config.reference_episodes
            << " episodes each\n";
  References r;
  r.random_return = evaluate_scripted(spec, "random", config.reference_episodes).mean_return;
  r.expert_return = evaluate_checkpoint(run_dir, schema, {}, config.reference_episodes, false).mean_return;
  nlohmann::ordered_json j;
  j["random_return"] = r.random_return;
  j["expert_return"] = r.expert_return;
  j["episodes"] = config.reference_episodes;
  j["policy"] = "sampled";
  j["expert_checkpoint"] = resolve_checkpoint(run_dir);
  write_text_file(path, j.dump(2) + "\n");
  return r;
}

// The checkpoint whose training return (mean over the rows since the previous checkpoint) is
// closest to one third of the way from random to expert.
std::string pick_medium(const RunDir& dir, const References& refs, double* training_return) {
  const MetricsTable metrics = read_metrics_csv(dir.file("metrics.csv"));
  const std::vector<double>& updates = metrics.columns.at("update");
  const std::vector<double>& returns = metrics.columns.at("charts/episodic_return");
  const double target = refs.random_return + (refs.expert_return - refs.random_return) / 3.0;
  std::string best;
  double best_gap = std::numeric_limits<double>::infinity();
  int64_t previous = 0;
  for (const std::string& path : dir.checkpoints()) {
    const int64_t u = checkpoint_update(path);
    double sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < updates.size(); ++i)
      if (updates[i] > previous && updates[i] <= u && std::isfinite(returns[i])) sum += returns[i], ++n;
    previous = u;
    if (n == 0) continue;
    const double r = sum / n;
    if (std::abs(r - target) < best_gap) best_gap = std::abs(r - target), best = path, *training_return = r;
  }
  if (best.empty()) throw Error(dir.path() + ": no checkpoint with finished training episodes to pick medium from");
  return best;
}

// Collects `rows` transitions with the policy of `checkpoint` ("" = random) into `writer`.
EpisodeTally collect_with(const std::string& checkpoint, const Spec& spec, const SpecSchema& schema, int64_t rows,
                          uint64_t seed, ExperienceWriter& writer) {
  VectorEnv venv = make_vector_env(spec, mix_seed(seed, kCollectStream));
  const EnvRegistration& env = find_env(spec.get_string("env.name"));
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(seed, kCollectStream + 1));
  if (checkpoint.empty()) {
    ScriptedPolicy random("random", env, venv.action_spec(), mix_seed(seed, kCollectStream + 2));
    return collect_experience(venv, random.behaviour(venv.observation_spec().size()), rows, writer, false, env.rates,
                              "collect random");
  }
  const LoadedPolicy policy = load_policy(checkpoint, schema);
  return collect_experience(venv, policy_behaviour(policy, gen, /*greedy=*/false), rows, writer, false, env.rates,
                            "collect " + fs::path(checkpoint).filename().string());
}

// Copies rows [0, cut) of the expert run's experience.h5, cut at the last episode end at or
// before `step` transitions; `mean_return` is the mean return of the episodes copied.
int64_t copy_replay(const std::string& experience, int64_t step, ExperienceWriter& writer, double* mean_return) {
  const ExperienceReader reader(experience);
  const auto& terminals = reader.terminals();
  const auto& timeouts = reader.timeouts();
  int64_t cut = 0;
  for (int64_t i = 0; i < std::min(step, reader.rows()); ++i)
    if (terminals[i] || timeouts[i]) cut = i + 1;
  if (cut == 0) throw Error(experience + ": no episode finished before step " + std::to_string(step));
  constexpr int64_t kChunk = 65536;
  std::vector<float> rewards;
  for (int64_t begin = 0; begin < cut; begin += kChunk) {
    const Experience chunk = reader.read(begin, std::min(kChunk, cut - begin));
    rewards.insert(rewards.end(), chunk.rewards.begin(), chunk.rewards.end());
    writer.append(chunk);
  }
  *mean_return = summarize_experience(rewards, {terminals.begin(), terminals.begin() + cut},
                                      {timeouts.begin(), timeouts.begin() + cut})
                     .return_mean;
  return cut;
}

}  // namespace

template <class Keys>
void DatasetConfig::bind(Keys& keys) {
  keys("dataset.runs", runs, "folder of the expert runs `dataset make` trains or reuses");
  keys("dataset.size", size, "transitions per dataset (medium-expert: this many medium and this many expert ones)")
      .at_least(1);
  keys("dataset.expert_total_steps", expert_total_steps,
       "expert run length in environment steps (0: the shipped spec's train.total_steps)")
      .at_least(0);
  keys("dataset.reference_episodes", reference_episodes, "episodes that measure the random, expert and medium returns")
      .at_least(1);
}

void DatasetConfig::declare_keys(SpecSchema& s) { declare_keys_of<DatasetConfig>(s); }

DatasetConfig DatasetConfig::from_spec(const Spec& spec) { return read_keys<DatasetConfig>(spec); }

const std::vector<std::string>& dataset_tasks() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : expert_tasks()) n.push_back(t.task);
    return n;
  }();
  return names;
}

const std::vector<std::string>& dataset_qualities() {
  static const std::vector<std::string> q = {"random", "medium", "medium-replay", "expert", "medium-expert"};
  return q;
}

std::string expert_spec_path(const std::string& task) {
  for (const auto& t : expert_tasks())
    if (t.task == task) return std::string(SHARDLAB_SOURCE_DIR) + "/experiments/" + t.spec_file;
  std::string known;
  for (const auto& n : dataset_tasks()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("--task " + task + ": no expert spec for this task (known: " + known + ")");
}

void check_dataset_quality(const std::string& quality, const std::string& where) {
  const auto& qualities = dataset_qualities();
  if (std::find(qualities.begin(), qualities.end(), quality) == qualities.end())
    throw InputError(where + " " + quality + ": expected random, medium, medium-replay, expert or medium-expert");
}

namespace {

// Names the behaviour policy of a dataset of `quality` in `metadata` and returns its measured
// return (NaN for medium-replay: its data's own return is measured when it is copied).
double describe_behaviour_policy(const std::string& quality, const std::string& expert, const std::string& medium,
                                 double medium_training_return, const References& refs, const DatasetConfig& config,
                                 const SpecSchema& schema, std::map<std::string, std::string>& metadata) {
  double policy_return = std::nan("");
  if (quality == "random") {
    metadata["policy"] = "random";
    policy_return = refs.random_return;
  } else if (quality == "expert") {
    metadata["policy"] = "expert (sampled)";
    metadata["source_checkpoint"] = expert;
    policy_return = refs.expert_return;
  } else {
    metadata["source_checkpoint"] = medium;
    metadata["medium_training_return"] = std::to_string(medium_training_return);
    const double medium_return = evaluate_checkpoint(medium, schema, {}, config.reference_episodes, false).mean_return;
    metadata["medium_return"] = std::to_string(medium_return);
    if (quality == "medium") {
      metadata["policy"] = "medium (sampled)";
      policy_return = medium_return;
    } else if (quality == "medium-expert") {
      metadata["policy"] = "medium (sampled), then expert (sampled)";
      metadata["expert_checkpoint"] = expert;
      policy_return = 0.5 * (medium_return + refs.expert_return);
    } else {
      metadata["policy"] = "training (PPO) up to the medium checkpoint";
    }
  }
  return policy_return;
}

}  // namespace

std::string make_dataset(const DatasetRequest& request, const DatasetConfig& config, const SpecSchema& schema) {
  check_dataset_quality(request.quality, "--quality");
  const Spec spec = expert_spec(request.task, config, schema);
  claim_outputs({request.out}, request.force);

  const std::string run_dir = ensure_expert(request.task, spec, config);
  const RunDir dir = RunDir::existing(run_dir);
  const References refs = references(run_dir, spec, config, schema);
  const std::string expert = resolve_checkpoint(run_dir);
  double medium_training_return = std::nan("");
  const bool needs_medium = request.quality.rfind("medium", 0) == 0;
  const std::string medium = needs_medium ? pick_medium(dir, refs, &medium_training_return) : "";

  auto venv_probe = make_vector_env(spec, 0, 1);
  std::map<std::string, std::string> metadata = {{"spec", spec.to_ini()},
                                                 {"env_name", spec.get_string("env.name")},
                                                 {"quality", request.quality},
                                                 {"seed", std::to_string(request.seed)},
                                                 {"source_run", run_dir},
                                                 {"reference_random_return", std::to_string(refs.random_return)},
                                                 {"reference_expert_return", std::to_string(refs.expert_return)},
                                                 {"reference_episodes", std::to_string(config.reference_episodes)},
                                                 {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}};
  // The behaviour policy's measured return: what the "behavior" column of the ablation shows.
  double policy_return =
      describe_behaviour_policy(request.quality, expert, medium, medium_training_return, refs, config, schema, metadata);

  ExperienceWriter writer(request.out, venv_probe.observation_spec(), venv_probe.action_spec(), false,
                          venv_probe.info_names(), {}, request.force);
  int64_t rows = 0;
  if (request.quality == "medium-replay") {
    int64_t step = 0;
    Checkpoint counters;
    counters.add("global_step", step);
    counters.load(medium);
    double replay_return = 0;
    rows = copy_replay(dir.file("experience.h5"), step, writer, &replay_return);
    metadata["replay_steps"] = std::to_string(step);
    policy_return = replay_return;
  } else if (request.quality == "medium-expert") {
    collect_with(medium, spec, schema, config.size, request.seed, writer);
    collect_with(expert, spec, schema, config.size, mix_seed(request.seed, 1), writer);
    rows = 2 * config.size;
  } else {
    const EpisodeTally tally = collect_with(request.quality == "random"   ? ""
                                            : request.quality == "expert" ? expert
                                                                          : medium,
                                            spec, schema, config.size, request.seed, writer);
    rows = config.size;
    metadata["collected_mean_return"] = std::to_string(tally.mean_return());
  }
  if (std::isfinite(policy_return)) metadata["policy_mean_return"] = std::to_string(policy_return);
  writer.set_metadata(metadata);
  writer.close();
  std::ostringstream out;
  out << "wrote " << rows << " transitions (" << request.task << " " << request.quality << ") to " << request.out
      << "; behaviour return " << metadata["policy_mean_return"] << ", references random " << refs.random_return
      << " expert " << refs.expert_return;
  return out.str();
}

}  // namespace shardlab
