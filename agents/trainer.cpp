#include "agents/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agents/learner_loop.h"
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
constexpr uint64_t kScheduleStream = 0xC0DE;  // environments made anew by train.env_schedule

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

// Batches from rollouts of this rank's share of the vector environment. Owns the observation and
// return normalisers (checkpoint parts "obs", "ret", with the settings "obs_normalize" and
// "obs_clip" that evaluation reads), and the episodes' columns: count, mean return and length,
// the environment's outcome rates, over every rank's episodes of the update.
class RolloutSource : public BatchSource {
 public:
  RolloutSource(const Spec& spec, const TrainConfig& config, const TrainOptions& options, const EnvRegistration& env,
                int64_t num_envs, std::string algo, std::vector<EnvChange> schedule)
      : spec_(spec),
        options_(options),
        env_(env),
        config_(config),
        num_envs_(num_envs),
        algo_(std::move(algo)),
        normalize_observations_(config_.normalize_observations),
        observation_clip_(config_.observation_clip),
        schedule_(std::move(schedule)) {}

  // The updates of the run: train.total_steps in batches of every rank's rollout.
  int64_t batch() const { return config_.num_steps * num_envs_ * options_.ranks.world_size(); }
  int64_t rows() const override { return std::max<int64_t>(1, config_.total_steps / batch()); }
  int64_t updates_in_row(int64_t) const override { return 1; }
  int64_t steps_per_update() const override { return batch(); }
  std::string generator_part() const override { return "generator_state"; }
  uint64_t generator_stream() const override { return kSamplingStream; }

  void add_parts(Checkpoint& checkpoint) override {
    checkpoint.add("obs", observation_stats_);
    checkpoint.add("ret", return_stats_);
    checkpoint.add("obs_normalize", normalize_observations_, /*optional=*/true);
    checkpoint.add("obs_clip", observation_clip_, /*optional=*/true);
  }

  std::vector<std::string> columns(const std::vector<std::string>& learner_metrics) const override {
    std::vector<std::string> columns;
    for (const std::string& m : learner_metrics)  // the learner's schedule first (its learning rate)
      if (m.rfind("charts/", 0) == 0) columns.push_back(m);
    for (const char* c : {"charts/episodes", "charts/episodic_return", "charts/episodic_length"}) columns.push_back(c);
    for (const EpisodeRate& rate : env_.rates) columns.push_back("charts/" + rate.name);
    for (const std::string& m : learner_metrics)
      if (m.rfind("charts/", 0) != 0) columns.push_back(m);
    columns.push_back("time/rollout_s");
    columns.push_back("time/update_s");
    return columns;
  }

  nlohmann::json facts() const override { return {{"algo", algo_}, {"num_updates", rows()}, {"batch_size", batch()}}; }

  void start(const TrainingRun& run) override {
    const Collective& ranks = options_.ranks;
    // A resumed run restarts its environments from a fresh stream (their states are not saved).
    // Rank r steps environments r*n .. r*n+n-1 of the run's env.num_envs.
    update_ = run.update();
    changes_ = changes_by(schedule_, update_ * batch());
    collector_ =
        std::make_unique<RolloutCollector>(make_vector_env(spec_after_changes(spec_, schedule_, changes_),
                                                           options_.resume ? mix_seed(kResumeStream, run.update()) : 0,
                                                           num_envs_, ranks.rank() * num_envs_),
                                           config_, run.device(), ranks);
    if (options_.resume) {
      collector_->observation_stats() = observation_stats_;
      collector_->reward_scaler().stats = return_stats_;
    }
    if (ranks.distributed() && ranks.leader())
      std::cerr << "data-parallel: " << ranks.world_size() << " ranks of " << num_envs_ << " environments and "
                << run.config().threads << " thread(s) each\n";
    if (run.config().save_experience && ranks.leader()) {
      const auto& v = collector_->venv();
      collector_->save_experience_to(std::make_unique<ExperienceWriter>(
          run.dir().file("experience.h5"), v.observation_spec(), v.action_spec(), false, v.info_names(),
          std::map<std::string, std::string>{
              {"spec", spec_.to_ini()},
              {"seed", std::to_string(run.config().seed)},
              {"policy", "training (" + algo_ + ", from update " + std::to_string(run.update()) + ")"},
              {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}},
          /*overwrite=*/true));
    }
  }

  Batch next(Learner& learner, at::Generator& gen) override {
    follow_schedule();
    collector_->episodes().this_update.clear();
    const auto start = std::chrono::steady_clock::now();
    Rollout rollout = collector_->collect(*learner.policy(), gen, config_.num_steps);
    rollout_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return rollout;
  }

  std::string finish_row(int64_t row, Learner&, std::map<std::string, double>& values,
                         const Collective& ranks) override {
    values["time/rollout_s"] = rollout_s_;
    add_episode_columns(values, collector_->episodes().this_update, ranks);
    observation_stats_ = collector_->observation_stats();
    return_stats_ = collector_->reward_scaler().stats;
    const auto recent = collector_->episodes().recent_list();
    std::string progress = "update " + std::to_string(row) + "/" + std::to_string(rows()) + " return " +
                           format_rate(EpisodeWindow::mean(recent, "return"));
    if (!env_.rates.empty()) {
      const EpisodeRate& first = env_.rates.front();
      progress += " " + first.name.substr(0, first.name.rfind("_rate")) + " " +
                  format_rate(EpisodeWindow::mean(recent, first.stat));
    }
    return progress;
  }

  void finish() override {
    if (collector_) collector_->finish_experience();
  }

 private:
  // train.env_schedule: the environments made anew when this update starts a new phase.
  void follow_schedule() {
    const int64_t step = update_++ * batch();
    const size_t changes = changes_by(schedule_, step);
    if (changes == changes_) return;
    changes_ = changes;
    collector_->replace_venv(make_vector_env(spec_after_changes(spec_, schedule_, changes_),
                                             mix_seed(kScheduleStream, static_cast<uint64_t>(update_)), num_envs_,
                                             options_.ranks.rank() * num_envs_));
    if (options_.ranks.leader()) {
      const EnvChange& change = schedule_[changes_ - 1];
      std::cerr << "train.env_schedule: " << change.key << " = " << change.value << " from update " << update_
                << " (step " << step << ")\n";
    }
  }

  // The episodes' columns over every rank's episodes of the update (one all-reduce).
  void add_episode_columns(std::map<std::string, double>& row, const std::vector<EpisodeStats>& episodes,
                           const Collective& ranks) const {
    std::vector<std::string> fields = {"return", "length"};
    for (const EpisodeRate& rate : env_.rates) fields.push_back(rate.stat);
    const double count = static_cast<double>(episodes.size());
    std::vector<double> sums = {count};
    for (const std::string& f : fields) sums.push_back(episodes.empty() ? 0.0 : EpisodeWindow::mean(episodes, f));
    if (ranks.distributed()) {
      for (size_t i = 1; i < sums.size(); ++i) sums[i] *= count;
      ranks.sum(sums);
      for (size_t i = 1; i < sums.size(); ++i) sums[i] = sums[0] > 0 ? sums[i] / sums[0] : std::nan("");
    } else if (episodes.empty()) {
      for (size_t i = 1; i < sums.size(); ++i) sums[i] = std::nan("");
    }
    row["charts/episodes"] = sums[0];
    row["charts/episodic_return"] = sums[1];
    row["charts/episodic_length"] = sums[2];
    for (size_t i = 0; i < env_.rates.size(); ++i) row["charts/" + env_.rates[i].name] = sums[3 + i];
  }

  const Spec& spec_;
  const TrainOptions& options_;
  const EnvRegistration& env_;
  TrainConfig config_;
  int64_t num_envs_;
  std::string algo_;
  RunningMeanStd observation_stats_, return_stats_;
  bool normalize_observations_;
  double observation_clip_;
  std::unique_ptr<RolloutCollector> collector_;
  double rollout_s_ = 0;
  std::vector<EnvChange> schedule_;
  int64_t update_ = 0;  // updates started
  size_t changes_ = 0;  // of schedule_, made
};

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

std::string train(const Spec& spec, const TrainOptions& options) {
  // What a spec can get wrong is refused before the run folder exists.
  const TrainConfig config = TrainConfig::from_spec(spec);
  const EnvRegistration& env = find_env(spec.get_string("env.name"));
  const LearnerRegistration& algo = find_learner(online_learners(), spec, "agent.algo");
  const int64_t num_envs = rank_envs(spec, options.ranks.world_size());
  ObservationSpec observations;
  ActionSpec actions;
  {
    const auto probe = make_env(spec, 0);
    observations = probe->observation_spec();
    actions = probe->action_spec();
  }
  // Every phase of a curriculum keeps the environments' shapes.
  const std::vector<EnvChange> schedule = env_schedule(spec);
  for (size_t n = 1; n <= schedule.size(); ++n) {
    const auto phase = make_env(spec_after_changes(spec, schedule, n), 0);
    const ActionSpec& a = phase->action_spec();
    if (phase->observation_spec().shape != observations.shape || a.discrete != actions.discrete ||
        a.num_actions != actions.num_actions || a.dim != actions.dim)
      throw InputError("train.env_schedule: " + schedule[n - 1].key + "=" + schedule[n - 1].value +
                       " changes the observation or action shape; a curriculum keeps them");
  }
  if (!schedule.empty() && spec.get_bool("run.save_experience"))
    throw InputError(
        "train.env_schedule and run.save_experience: an experience file holds one environment's "
        "episodes; save the phases as separate runs");
  require_rollout_memory(spec, config, observations, num_envs);
  const GradientLoad load = algo.check(spec, num_envs * config.num_steps);
  const int64_t rows = std::max<int64_t>(num_envs, load.samples);
  require_network_memory(spec, observations, actions, rows, load.networks,
                         std::to_string(rows) + " samples per gradient step (" + load.from + ")");

  TrainingRun run(spec, options);
  RolloutSource source(spec, config, options, env, num_envs, algo.name, schedule);
  at::Generator init = at::detail::createCPUGenerator(run.config().seed);
  const std::unique_ptr<Learner> learner =
      algo.make({spec, observations, actions, run.device(), init, source.rows(), NAN, NAN, options.ranks});
  run_learner(run, *learner, source);
  return options.ranks.leader() ? run.dir().path() : "";
}

}  // namespace shardlab
