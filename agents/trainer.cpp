#include "agents/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agents/online_learner.h"
#include "agents/rollout.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/registry.h"

namespace shardlab {
namespace {

// Random streams, apart from the environments' (run.seed, stream, index).
constexpr uint64_t kSamplingStream = 0x5A4D;
constexpr uint64_t kResumeStream = 0xE5E7;

std::string format_rate(double v) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

// The rollout's observations (kept twice: as collected and as the learner's flattened batch),
// its per-step scalars, and the environments themselves (a generous 64 KiB each: Box2D worlds),
// for this rank's `envs` environments.
void require_rollout_memory(const Spec& spec, const TrainConfig& config, const ObservationSpec& observations,
                            int64_t rank_envs) {
  int64_t observation_floats = 1;
  for (int64_t d : observations.shape) observation_floats *= d;
  const double envs = static_cast<double>(rank_envs);
  const double rows = envs * static_cast<double>(config.num_steps);
  const double bytes = rows * (2.0 * 4.0 * static_cast<double>(observation_floats) + 64.0) + envs * 65536.0;
  require_memory(bytes,
                 "env.num_envs = " + std::to_string(spec.get_int("env.num_envs")) +
                     " with train.num_steps = " + std::to_string(config.num_steps),
                 "lower either");
}

// The update's metrics over every rank: the learner's losses as the ranks' mean, the episodes
// (count, mean return and length, outcome rates) over all ranks' episodes. One all-reduce.
void merge_metrics(std::map<std::string, double>& row, const std::vector<EpisodeStats>& episodes,
                   const EnvRegistration& env, const std::vector<std::string>& learner_metrics,
                   const Collective& ranks) {
  std::vector<std::string> fields = {"return", "length"};
  for (const EpisodeRate& rate : env.rates) fields.push_back(rate.stat);
  std::vector<double> sums = {static_cast<double>(episodes.size())};
  for (const std::string& f : fields)
    sums.push_back(episodes.empty() ? 0.0 : EpisodeWindow::mean(episodes, f) * static_cast<double>(episodes.size()));
  for (const std::string& m : learner_metrics) sums.push_back(row.count(m) ? row[m] : std::nan(""));
  ranks.sum(sums);
  const double n = sums[0];
  const double nan = std::nan("");
  row["charts/episodes"] = n;
  row["charts/episodic_return"] = n > 0 ? sums[1] / n : nan;
  row["charts/episodic_length"] = n > 0 ? sums[2] / n : nan;
  for (size_t i = 0; i < env.rates.size(); ++i) row["charts/" + env.rates[i].name] = n > 0 ? sums[3 + i] / n : nan;
  for (size_t i = 0; i < learner_metrics.size(); ++i)
    row[learner_metrics[i]] = sums[1 + fields.size() + i] / static_cast<double>(ranks.world_size());
}

}  // namespace

int64_t rank_envs(const Spec& spec, int64_t world_size) {
  const int64_t total = spec.get_int("env.num_envs");
  if (total % world_size != 0)
    throw InputError("env.num_envs = " + std::to_string(total) + " does not divide among " +
                     std::to_string(world_size) + " ranks: use a multiple of the rank count");
  if (world_size > 1 && spec.get_bool("run.save_experience"))
    throw InputError("run.save_experience = true needs a single process: each rank sees only its own environments");
  return total / world_size;
}

std::vector<std::string> online_metric_columns(const Spec& spec) {
  std::vector<std::string> columns = {"global_step",
                                      "update",
                                      "time_s",
                                      "charts/SPS",
                                      "charts/learning_rate",
                                      "charts/episodes",
                                      "charts/episodic_return",
                                      "charts/episodic_length"};
  for (const EpisodeRate& rate : find_env(spec.get_string("env.name")).rates) columns.push_back("charts/" + rate.name);
  for (const auto& l : online_learners())
    if (l.name == spec.get_string("agent.algo"))
      for (const auto& m : l.make(spec, TrainConfig::from_spec(spec), at::kCPU).metrics) columns.push_back(m);
  columns.push_back("time/rollout_s");
  columns.push_back("time/update_s");
  return columns;
}

std::string train(const Spec& spec, const TrainOptions& options) {
  const TrainConfig config = TrainConfig::from_spec(spec);
  // What a spec can get wrong is refused before the run folder exists.
  const std::vector<std::string> columns = online_metric_columns(spec);
  const Collective& ranks = options.ranks;
  const int64_t num_envs = rank_envs(spec, ranks.world_size());
  auto probe = make_env(spec, 0);
  require_rollout_memory(spec, config, probe->observation_spec(), num_envs);
  // PPO's gradient steps take minibatches of the rollout; REINFORCE takes all of it.
  const int64_t minibatches = spec.get_string("agent.algo") == "ppo" ? spec.get_int("ppo.num_minibatches") : 1;
  const int64_t rows = std::max<int64_t>(num_envs, num_envs * config.num_steps / minibatches);
  require_network_memory(spec, probe->observation_spec(), probe->action_spec(), rows, 1,
                         std::to_string(rows) + " samples per gradient step (env.num_envs, train.num_steps, "
                                                "ppo.num_minibatches)");
  TrainingRun run(spec, options);
  const at::Device device = run.device();
  const uint64_t seed = run.config().seed;
  const EnvRegistration& env = find_env(spec.get_string("env.name"));
  const OnlineLearner learner = make_online_learner(spec, config, device);

  // The parts of the checkpoint: the network, its optimizer, the sampling stream, the normalisers.
  at::Generator init = at::detail::createCPUGenerator(seed);
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(seed, kSamplingStream));
  ActorCritic net(NetworkConfig::from_spec(spec), probe->observation_spec(), probe->action_spec(), init);
  probe.reset();
  net->to(device);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(config.learning_rate).eps(1e-5));
  RunningMeanStd observation_stats, return_stats;
  bool normalize_observations = config.normalize_observations;
  double observation_clip = config.observation_clip;
  Checkpoint& checkpoint = run.checkpoint();
  checkpoint.add("model", *net);
  checkpoint.add("optimizer", optimizer);
  checkpoint.add("generator_state", gen);
  checkpoint.add("obs", observation_stats);
  checkpoint.add("ret", return_stats);
  checkpoint.add("obs_normalize", normalize_observations, /*optional=*/true);
  checkpoint.add("obs_clip", observation_clip, /*optional=*/true);
  run.restore();
  // Each rank samples actions and minibatches from its own stream (rank 0 keeps the saved one).
  if (!ranks.leader())
    gen.set_current_seed(mix_seed(mix_seed(mix_seed(seed, kSamplingStream), ranks.rank()), run.update()));

  // A resumed run restarts its environments from a fresh stream (their states are not saved).
  // Rank r steps environments r*n .. r*n+n-1 of the run's env.num_envs.
  RolloutCollector collector(make_vector_env(spec, options.resume ? mix_seed(kResumeStream, run.update()) : 0, num_envs,
                                             ranks.rank() * num_envs),
                             config, device, ranks);
  if (options.resume) {
    collector.observation_stats() = observation_stats;
    collector.reward_scaler().stats = return_stats;
  }
  const int64_t batch = config.num_steps * collector.venv().num_envs() * ranks.world_size();
  const int64_t num_updates = std::max<int64_t>(1, config.total_steps / batch);
  run.start(columns, {{"algo", learner.name}, {"num_updates", num_updates}, {"batch_size", batch}});
  if (ranks.distributed() && ranks.leader())
    std::cerr << "data-parallel: " << ranks.world_size() << " ranks of " << num_envs << " environments and "
              << run.config().threads << " thread(s) each\n";
  if (run.config().save_experience && ranks.leader()) {
    const auto& v = collector.venv();
    collector.save_experience_to(std::make_unique<ExperienceWriter>(
        run.dir().file("experience.h5"), v.observation_spec(), v.action_spec(), false, v.info_names(),
        std::map<std::string, std::string>{
            {"spec", spec.to_ini()},
            {"seed", std::to_string(seed)},
            {"policy", "training (" + learner.name + ", from update " + std::to_string(run.update()) + ")"},
            {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}},
        /*overwrite=*/true));
  }

  int64_t global_step = run.global_step();
  for (int64_t update = run.update() + 1; update <= num_updates; ++update) {
    const double lr =
        config.anneal_lr ? config.learning_rate * (1.0 - (update - 1.0) / num_updates) : config.learning_rate;
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

    collector.episodes().this_update.clear();
    net->train();
    const auto rollout_start = std::chrono::steady_clock::now();
    const Rollout rollout = collector.collect(*net, gen, config.num_steps);
    const auto update_start = std::chrono::steady_clock::now();
    std::map<std::string, double> row;
    try {
      row = learner.update(*net, optimizer, rollout, gen, ranks);
    } catch (const NonFiniteLoss& e) {
      collector.finish_experience();
      if (!ranks.leader()) throw;
      const auto last_good = run.dir().newest_checkpoint();
      throw NonFiniteLoss(
          "training stopped at update " + std::to_string(update) + ": " + e.what() +
          (last_good ? "; the last good checkpoint is " + *last_good : "; no checkpoint was written before it"));
    }
    const auto update_end = std::chrono::steady_clock::now();
    global_step += batch;
    row["time/rollout_s"] = std::chrono::duration<double>(update_start - rollout_start).count();
    row["time/update_s"] = std::chrono::duration<double>(update_end - update_start).count();

    const auto& episodes = collector.episodes().this_update;
    row["charts/learning_rate"] = lr;
    if (ranks.distributed()) {
      merge_metrics(row, episodes, env, learner.metrics, ranks);
    } else {
      row["charts/episodes"] = static_cast<double>(episodes.size());
      row["charts/episodic_return"] = EpisodeWindow::mean(episodes, "return");
      row["charts/episodic_length"] = EpisodeWindow::mean(episodes, "length");
      for (const EpisodeRate& rate : env.rates) row["charts/" + rate.name] = EpisodeWindow::mean(episodes, rate.stat);
    }

    observation_stats = collector.observation_stats();
    return_stats = collector.reward_scaler().stats;
    const auto recent = collector.episodes().recent_list();
    std::string extra = "update " + std::to_string(update) + "/" + std::to_string(num_updates) + " return " +
                        format_rate(EpisodeWindow::mean(recent, "return"));
    if (!env.rates.empty()) {
      const EpisodeRate& first = env.rates.front();
      extra += " " + first.name.substr(0, first.name.rfind("_rate")) + " " +
               format_rate(EpisodeWindow::mean(recent, first.stat));
    }
    row["charts/SPS"] = run.steps_per_second(global_step);
    run.finish_update(update, global_step, std::move(row), num_updates * batch, extra, update == num_updates);
  }
  collector.finish_experience();
  return ranks.leader() ? run.dir().path() : "";
}

}  // namespace shardlab
