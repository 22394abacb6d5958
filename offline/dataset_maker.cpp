#include "offline/dataset_maker.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
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
  // How offline learners are evaluated on the task (offline.eval_greedy in the ablation's
  // overrides): the expert reference is measured the same way. The maze samples: its stateless
  // greedy policies loop.
  bool evaluated_greedy;
};
const std::vector<ExpertTask>& expert_tasks() {
  static const std::vector<ExpertTask> tasks = {{"bipedal_walker", "ppo_bipedal_walker.ini", true},
                                                {"lunar_lander_continuous", "ppo_lander_continuous.ini", true},
                                                {"maze", "ppo_maze_demo.ini", false}};
  return tasks;
}

const ExpertTask& expert_task(const std::string& task) {
  for (const auto& t : expert_tasks())
    if (t.task == task) return t;
  expert_spec_path(task);  // InputError naming the known tasks
  throw Error("unreachable");
}

const char* action_mode(bool greedy) { return greedy ? "greedy" : "sampled"; }

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
  double random_return = 0;
  double expert_greedy = 0, expert_sampled = 0;  // the expert's return acting greedily and sampled
  bool greedy = true;                            // the mode the learners are evaluated in
  // The reference expert return of normalized scores: the one in the learners' mode.
  double expert_return() const { return greedy ? expert_greedy : expert_sampled; }
};

// The task's reference returns, measured once per expert run and kept in references.json: the
// random policy's, and the expert's greedy and sampled (the sampled one is what an expert
// dataset's behaviour achieves; the one in the learners' evaluation mode normalizes their scores).
References references(const std::string& run_dir, const ExpertTask& task, const Spec& spec, const DatasetConfig& config,
                      const SpecSchema& schema) {
  const std::string path = run_dir + "/references.json";
  References r;
  r.greedy = task.evaluated_greedy;
  if (fs::exists(path)) {
    const nlohmann::json j = nlohmann::json::parse(read_text_file(path), nullptr, false);
    if (!j.is_discarded() && j.contains("random_return") && j.contains("expert_greedy_return") &&
        j.contains("expert_sampled_return") && j.value("episodes", int64_t{0}) == config.reference_episodes) {
      r.random_return = j["random_return"].get<double>();
      r.expert_greedy = j["expert_greedy_return"].get<double>();
      r.expert_sampled = j["expert_sampled_return"].get<double>();
      return r;
    }
  }
  std::cerr << "dataset make: measuring the random and expert (greedy and sampled) returns over "
            << config.reference_episodes << " episodes each\n";
  r.random_return = evaluate_scripted(spec, "random", config.reference_episodes).mean_return;
  r.expert_greedy = evaluate_checkpoint(run_dir, schema, {}, config.reference_episodes, true).mean_return;
  r.expert_sampled = evaluate_checkpoint(run_dir, schema, {}, config.reference_episodes, false).mean_return;
  nlohmann::ordered_json j;
  j["random_return"] = r.random_return;
  j["expert_greedy_return"] = r.expert_greedy;
  j["expert_sampled_return"] = r.expert_sampled;
  j["episodes"] = config.reference_episodes;
  j["expert_checkpoint"] = resolve_checkpoint(run_dir);
  write_text_file(path, j.dump(2) + "\n");
  return r;
}

// The checkpoint (index into dir.checkpoints()) whose training return (mean over the rows since
// the previous checkpoint) is closest to `target`: where the search for medium starts.
size_t training_curve_pick(const RunDir& dir, double target, double* training_return) {
  const MetricsTable metrics = read_metrics_csv(dir.file("metrics.csv"));
  const std::vector<double>& updates = metrics.columns.at("update");
  const std::vector<double>& returns = metrics.columns.at("charts/episodic_return");
  const std::vector<std::string> checkpoints = dir.checkpoints();
  size_t best = checkpoints.size();
  double best_gap = std::numeric_limits<double>::infinity();
  int64_t previous = 0;
  for (size_t c = 0; c < checkpoints.size(); ++c) {
    const int64_t u = checkpoint_update(checkpoints[c]);
    double sum = 0;
    int64_t n = 0;
    for (size_t i = 0; i < updates.size(); ++i)
      if (updates[i] > previous && updates[i] <= u && std::isfinite(returns[i])) sum += returns[i], ++n;
    previous = u;
    if (n == 0) continue;
    const double r = sum / n;
    if (std::abs(r - target) < best_gap) best_gap = std::abs(r - target), best = c, *training_return = r;
  }
  if (best == checkpoints.size())
    throw Error(dir.path() + ": no checkpoint with finished training episodes to pick medium from");
  return best;
}

struct Medium {
  std::string checkpoint;
  double mean_return = 0;  // measured, sampled
  std::string training_pick;
  double training_return = 0;
  std::string candidates;  // "update_0000050.pt 31.2, ..." normalized scores in measured order
};

// Medium by evaluation (walk_to_medium from the training curve's pick), kept in medium.json.
Medium pick_medium(const RunDir& dir, const References& refs, const DatasetConfig& config, const SpecSchema& schema) {
  const std::string path = dir.file("medium.json");
  const nlohmann::json cached =
      fs::exists(path) ? nlohmann::json::parse(read_text_file(path), nullptr, false) : nlohmann::json(nullptr);
  if (cached.is_object() && cached.value("episodes", int64_t{0}) == config.reference_episodes &&
      cached.value("most_candidates", int64_t{0}) == config.medium_candidates &&
      cached.value("expert_return", std::nan("")) == refs.expert_return() && cached.contains("checkpoint") &&
      fs::exists(cached["checkpoint"].get<std::string>()))
    return {cached["checkpoint"].get<std::string>(), cached["mean_return"].get<double>(),
            cached["training_pick"].get<std::string>(), cached["training_return"].get<double>(),
            cached["candidates"].get<std::string>()};
  Medium m;
  const double target = 100.0 / 3.0;
  const size_t start = training_curve_pick(dir, refs.random_return + (refs.expert_return() - refs.random_return) / 3.0,
                                           &m.training_return);
  const std::vector<std::string> checkpoints = dir.checkpoints();
  m.training_pick = checkpoints[start];
  std::cerr << "dataset make: choosing medium by evaluating up to " << config.medium_candidates << " checkpoints from "
            << fs::path(m.training_pick).filename().string() << " (training curve)\n";
  const std::vector<MediumCandidate> measured =
      walk_to_medium(checkpoints, start, target, config.medium_candidates, [&](const std::string& checkpoint) {
        const double r = evaluate_checkpoint(checkpoint, schema, {}, config.reference_episodes, false).mean_return;
        return MediumCandidate{checkpoint, r, normalized_score(r, refs.random_return, refs.expert_return())};
      });
  const MediumCandidate* best = &measured.front();
  for (const MediumCandidate& c : measured) {
    if (std::abs(c.score - target) < std::abs(best->score - target)) best = &c;
    char entry[96];
    std::snprintf(entry, sizeof entry, "%s%s %.1f", m.candidates.empty() ? "" : ", ",
                  fs::path(c.checkpoint).filename().string().c_str(), c.score);
    m.candidates += entry;
  }
  m.checkpoint = best->checkpoint;
  m.mean_return = best->mean_return;
  nlohmann::ordered_json j = {{"checkpoint", m.checkpoint},
                              {"mean_return", m.mean_return},
                              {"training_pick", m.training_pick},
                              {"training_return", m.training_return},
                              {"candidates", m.candidates},
                              {"episodes", config.reference_episodes},
                              {"most_candidates", config.medium_candidates},
                              {"expert_return", refs.expert_return()}};
  write_text_file(path, j.dump(2) + "\n");
  return m;
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
  keys("dataset.reference_episodes", reference_episodes,
       "episodes (seeded) that measure the random, expert and medium candidates' returns")
      .at_least(1);
  keys("dataset.medium_candidates", medium_candidates,
       "checkpoints evaluated at most to choose medium (from the training curve's pick toward one third of expert)")
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

std::vector<MediumCandidate> walk_to_medium(const std::vector<std::string>& checkpoints, size_t start, double target,
                                            int64_t most,
                                            const std::function<MediumCandidate(const std::string&)>& measure) {
  std::vector<MediumCandidate> measured = {measure(checkpoints.at(start))};
  if (measured.back().score == target) return measured;
  const bool earlier = measured.back().score > target;
  for (size_t i = start; static_cast<int64_t>(measured.size()) < most;) {
    if (earlier ? i == 0 : i + 1 >= checkpoints.size()) break;
    i = earlier ? i - 1 : i + 1;
    measured.push_back(measure(checkpoints[i]));
    if (earlier ? measured.back().score <= target : measured.back().score >= target) break;
  }
  return measured;
}

void check_dataset_quality(const std::string& quality, const std::string& where) {
  const auto& qualities = dataset_qualities();
  if (std::find(qualities.begin(), qualities.end(), quality) == qualities.end())
    throw InputError(where + " " + quality + ": expected random, medium, medium-replay, expert or medium-expert");
}

namespace {

// Names the behaviour policy of a dataset of `quality` in `metadata` and returns its return as it
// collected, sampled (NaN for medium-replay: its data's own return is measured when it is copied).
double describe_behaviour_policy(const std::string& quality, const std::string& expert, const Medium& medium,
                                 const References& refs, std::map<std::string, std::string>& metadata) {
  double policy_return = std::nan("");
  if (quality == "random") {
    metadata["policy"] = "random";
    policy_return = refs.random_return;
  } else if (quality == "expert") {
    metadata["policy"] = "expert (sampled)";
    metadata["source_checkpoint"] = expert;
    policy_return = refs.expert_sampled;
  } else {
    metadata["source_checkpoint"] = medium.checkpoint;
    metadata["medium_return"] = std::to_string(medium.mean_return);
    metadata["medium_chosen_by"] = "evaluation (sampled): the candidate whose normalized score is closest to 33.3";
    metadata["medium_candidates"] = medium.candidates;
    metadata["medium_training_pick"] = medium.training_pick;
    metadata["medium_training_return"] = std::to_string(medium.training_return);
    if (quality == "medium") {
      metadata["policy"] = "medium (sampled)";
      policy_return = medium.mean_return;
    } else if (quality == "medium-expert") {
      metadata["policy"] = "medium (sampled), then expert (sampled)";
      metadata["expert_checkpoint"] = expert;
      policy_return = 0.5 * (medium.mean_return + refs.expert_sampled);
    } else {
      metadata["policy"] = "training (PPO) up to the medium checkpoint";
    }
  }
  return policy_return;
}

// The reference returns in a dataset's metadata: the expert's in the learners' evaluation mode
// (what offline runs normalize by), and both modes' values.
void describe_references(const References& refs, const DatasetConfig& config,
                         std::map<std::string, std::string>& metadata) {
  metadata["reference_random_return"] = std::to_string(refs.random_return);
  metadata["reference_expert_return"] = std::to_string(refs.expert_return());
  metadata["reference_expert_action"] = action_mode(refs.greedy);
  metadata["reference_expert_greedy_return"] = std::to_string(refs.expert_greedy);
  metadata["reference_expert_sampled_return"] = std::to_string(refs.expert_sampled);
  metadata["reference_episodes"] = std::to_string(config.reference_episodes);
  metadata["policy_mean_return_action"] = "sampled (as the data was collected)";
}

}  // namespace

std::string make_dataset(const DatasetRequest& request, const DatasetConfig& config, const SpecSchema& schema) {
  check_dataset_quality(request.quality, "--quality");
  const Spec spec = expert_spec(request.task, config, schema);
  claim_outputs({request.out}, request.force);

  const std::string run_dir = ensure_expert(request.task, spec, config);
  const RunDir dir = RunDir::existing(run_dir);
  const References refs = references(run_dir, expert_task(request.task), spec, config, schema);
  const std::string expert = resolve_checkpoint(run_dir);
  const bool needs_medium = request.quality.rfind("medium", 0) == 0;
  const Medium medium = needs_medium ? pick_medium(dir, refs, config, schema) : Medium{};

  auto venv_probe = make_vector_env(spec, 0, 1);
  std::map<std::string, std::string> metadata = {
      {"spec", spec.to_ini()},      {"env_name", spec.get_string("env.name")},
      {"quality", request.quality}, {"seed", std::to_string(request.seed)},
      {"source_run", run_dir},      {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}};
  describe_references(refs, config, metadata);
  // The behaviour policy's measured return: what the "behavior" column of the ablation shows.
  double policy_return = describe_behaviour_policy(request.quality, expert, medium, refs, metadata);

  ExperienceWriter writer(request.out, venv_probe.observation_spec(), venv_probe.action_spec(), false,
                          venv_probe.info_names(), {}, request.force);
  int64_t rows = 0;
  if (request.quality == "medium-replay") {
    int64_t step = 0;
    Checkpoint counters;
    counters.add("global_step", step);
    counters.load(medium.checkpoint);
    double replay_return = 0;
    rows = copy_replay(dir.file("experience.h5"), step, writer, &replay_return);
    metadata["replay_steps"] = std::to_string(step);
    policy_return = replay_return;
  } else if (request.quality == "medium-expert") {
    collect_with(medium.checkpoint, spec, schema, config.size, request.seed, writer);
    collect_with(expert, spec, schema, config.size, mix_seed(request.seed, 1), writer);
    rows = 2 * config.size;
  } else {
    const EpisodeTally tally = collect_with(request.quality == "random"   ? ""
                                            : request.quality == "expert" ? expert
                                                                          : medium.checkpoint,
                                            spec, schema, config.size, request.seed, writer);
    rows = config.size;
    metadata["collected_mean_return"] = std::to_string(tally.mean_return());
  }
  if (std::isfinite(policy_return)) metadata["policy_mean_return"] = std::to_string(policy_return);
  writer.set_metadata(metadata);
  writer.close();
  std::ostringstream out;
  out << "wrote " << rows << " transitions (" << request.task << " " << request.quality << ") to " << request.out
      << "; behaviour return " << metadata["policy_mean_return"] << " (sampled), references random "
      << refs.random_return << " expert " << refs.expert_return() << " (" << action_mode(refs.greedy) << ")";
  return out.str();
}

}  // namespace shardlab
