#include "agents/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "agents/rollout.h"
#include "core/error.h"
#include "core/metrics_csv.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/registry.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

constexpr const char* kColumns[] = {
    "global_step",         "update",          "time_s",           "charts/SPS",
    "charts/learning_rate", "charts/episodes", "charts/episodic_return", "charts/episodic_length",
    "charts/cheese_rate",  "charts/corner_rate", "losses/policy_loss", "losses/value_loss",
    "losses/entropy",      "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac",
    "losses/explained_variance", "time/rollout_s",  "time/update_s"};

// Random streams, apart from the environments' (run.seed, stream, index).
constexpr uint64_t kSamplingStream = 0x5A4D;
constexpr uint64_t kResumeStream = 0xE5E7;

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

// The keys whose values differ between two resolved specs, for a resume that changed the spec.
std::string spec_difference(const Spec& a, const Spec& b) {
  std::string out;
  const auto va = a.values_under(""), vb = b.values_under("");
  for (const auto& [key, value] : va) {
    const auto it = vb.find(key);
    if (it == vb.end() || it->second != value)
      out += (out.empty() ? "" : ", ") + key + " (" + (it == vb.end() ? "?" : it->second) + " -> " + value + ")";
  }
  return out;
}

// Keeps the newest `keep` periodic checkpoints.
void prune_checkpoints(const fs::path& dir, int64_t keep) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("update_", 0) == 0 && e.path().extension() == ".pt")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + keep < files.size(); ++i) fs::remove(files[i]);
}

std::string format_rate(double v) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

}  // namespace

const char* const* metric_columns(int* count) {
  *count = static_cast<int>(sizeof kColumns / sizeof kColumns[0]);
  return kColumns;
}

std::string train(const Spec& spec, const TrainOptions& options) {
  const TrainConfig config = TrainConfig::from_spec(spec);
  const uint64_t seed = static_cast<uint64_t>(spec.get_int("run.seed"));
  const int64_t threads = spec.get_int("run.threads");
  if (threads < 1) throw InputError("run.threads: expected at least 1");
  const std::string device_name = spec.get_string("run.device");
  if (device_name == "cuda" && !torch::cuda::is_available())
    throw InputError("run.device = cuda, but this libtorch has no CUDA device available; use cpu");
  const at::Device device(device_name == "cuda" ? at::kCUDA : at::kCPU);
  const int64_t checkpoint_every = spec.get_int("run.checkpoint_every");
  if (checkpoint_every < 1) throw InputError("run.checkpoint_every: expected at least 1");

  // The run folder.
  const fs::path run_dir = fs::path(options.out_root) / options.run_name;
  const fs::path ckpt_dir = run_dir / "checkpoints";
  if (options.resume) {
    if (!fs::is_regular_file(run_dir / "spec.ini"))
      throw InputError(run_dir.string() + ": no run to resume there (no spec.ini)");
    const Spec saved = Spec::from_text(spec.schema(), read_text_file((run_dir / "spec.ini").string()), (run_dir / "spec.ini").string(), {});
    const std::string diff = spec_difference(spec, saved);
    if (!diff.empty()) throw InputError("--resume with a different spec than the run's: " + diff);
  } else if (fs::exists(run_dir)) {
    throw InputError(run_dir.string() + " exists; pass --resume to continue it, or choose another --out or run.name");
  }
  fs::create_directories(ckpt_dir);

  at::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(seed);  // network initialisation
  at::Generator gen = at::detail::createCPUGenerator(mix_seed(seed, kSamplingStream));

  auto probe = make_env(spec, 0);
  ActorCritic net(NetworkConfig::from_spec(spec), probe->observation_spec(), probe->action_spec());
  probe.reset();
  net->to(device);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(config.learning_rate).eps(1e-5));

  CheckpointState state;
  state.spec_ini = spec.to_ini();
  std::string resumed_from;
  if (options.resume) {
    try {
      resumed_from = resolve_checkpoint(run_dir.string());
    } catch (const FileError&) {
      std::cerr << run_dir.string() << " has no checkpoint yet; starting it over\n";
    }
    if (!resumed_from.empty()) load_checkpoint(resumed_from, *net, &optimizer, &gen, state);
  }
  // A resumed run restarts its environments from a fresh stream (their states are not saved).
  RolloutCollector collector(make_vector_env(spec, options.resume ? mix_seed(kResumeStream, state.update) : 0),
                             config, device);
  if (options.resume) {
    collector.observation_stats() = state.observation_stats;
    collector.reward_scaler().stats = state.return_stats;
  }
  const int64_t num_envs = collector.venv().num_envs();
  const int64_t batch = config.num_steps * num_envs;
  const int64_t num_updates = std::max<int64_t>(1, config.total_steps / batch);

  int metric_count = 0;
  const char* const* columns = metric_columns(&metric_count);
  MetricsCsv metrics((run_dir / "metrics.csv").string(), {columns, columns + metric_count},
                     options.resume ? state.global_step : -1);
  if (!options.resume) write_text_file((run_dir / "spec.ini").string(), spec.to_ini());
  {
    std::ostringstream json;
    json << "{\n  \"shardlab_version\": \"" << SHARDLAB_VERSION << "\",\n  \"seed\": " << seed
         << ",\n  \"threads\": " << threads << ",\n  \"device\": \"" << device_name << "\",\n  \"algo\": \""
         << config.algo << "\",\n  \"num_updates\": " << num_updates << ",\n  \"batch_size\": " << batch;
    const fs::path run_json = run_dir / "run.json";
    std::string history;
    if (options.resume && fs::exists(run_json)) {
      const std::string old = read_text_file(run_json.string());
      const auto a = old.find("\"history\": [");
      if (a != std::string::npos) history = old.substr(a + 12, old.find(']', a) - a - 12);
    }
    history += std::string(history.empty() ? "" : ",") + "\n    {\"event\": \"" +
               (options.resume ? "resume" : "start") + "\", \"time\": \"" + now_utc() +
               "\", \"update\": " + std::to_string(state.update) + "}";
    json << ",\n  \"history\": [" << history << "]\n}\n";
    write_text_file(run_json.string(), json.str());
  }
  if (spec.get_bool("run.save_experience")) {
    const auto& v = collector.venv();
    collector.save_experience_to(std::make_unique<ExperienceWriter>(
        (run_dir / "experience.h5").string(), v.observation_spec(), v.action_spec(), false, v.info_names(),
        std::map<std::string, std::string>{{"spec", spec.to_ini()},
                                           {"seed", std::to_string(seed)},
                                           {"policy", "training (" + config.algo + ", from update " +
                                                          std::to_string(state.update) + ")"},
                                           {"shardlab_version", std::string("shardlab ") + SHARDLAB_VERSION}},
        /*overwrite=*/true));
  }

  if (!resumed_from.empty())
    std::cerr << "resuming " << run_dir.string() << " from " << resumed_from << " (update " << state.update
              << ", step " << state.global_step << ")\n";
  Progress progress("train " + options.run_name);
  const auto start = std::chrono::steady_clock::now();
  const int64_t first_step = state.global_step;
  for (int64_t update = state.update + 1; update <= num_updates; ++update) {
    const double lr = config.anneal_lr ? config.learning_rate * (1.0 - (update - 1.0) / num_updates)
                                       : config.learning_rate;
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

    collector.episodes().this_update.clear();
    net->train();
    const auto rollout_start = std::chrono::steady_clock::now();
    const Rollout rollout = collector.collect(*net, gen, config.num_steps);
    const auto update_start = std::chrono::steady_clock::now();
    std::map<std::string, double> row;
    try {
      row = config.algo == "ppo" ? ppo_update(*net, optimizer, rollout, config, gen, device)
                                 : reinforce_update(*net, optimizer, rollout, config, device);
    } catch (const NonFiniteLoss& e) {
      collector.finish_experience();
      throw Error("training stopped at update " + std::to_string(update) + ": " + e.what() +
                  "; the last good checkpoint is in " + ckpt_dir.string());
    }
    state.update = update;
    state.global_step += batch;
    const auto update_end = std::chrono::steady_clock::now();
    row["time/rollout_s"] = std::chrono::duration<double>(update_start - rollout_start).count();
    row["time/update_s"] = std::chrono::duration<double>(update_end - update_start).count();

    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& episodes = collector.episodes().this_update;
    row["global_step"] = static_cast<double>(state.global_step);
    row["update"] = static_cast<double>(update);
    row["time_s"] = elapsed;
    row["charts/SPS"] = (state.global_step - first_step) / std::max(elapsed, 1e-9);
    row["charts/learning_rate"] = lr;
    row["charts/episodes"] = static_cast<double>(episodes.size());
    row["charts/episodic_return"] = EpisodeWindow::mean(episodes, "return");
    row["charts/episodic_length"] = EpisodeWindow::mean(episodes, "length");
    row["charts/cheese_rate"] = EpisodeWindow::mean(episodes, "reached_cheese");
    row["charts/corner_rate"] = EpisodeWindow::mean(episodes, "reached_corner");

    if (update % checkpoint_every == 0 || update == num_updates) {
      state.observation_stats = collector.observation_stats();
      state.return_stats = collector.reward_scaler().stats;
      char name[32];
      std::snprintf(name, sizeof name, "update_%07lld.pt", static_cast<long long>(update));
      save_checkpoint((ckpt_dir / name).string(), *net, optimizer, gen, state);
      prune_checkpoints(ckpt_dir, std::max<int64_t>(1, spec.get_int("run.keep_checkpoints")));
    }
    // The row is written after its checkpoint, so a resumed run never repeats a row it kept.
    metrics.write(row);

    const auto recent = collector.episodes().recent_list();
    std::string extra = "update " + std::to_string(update) + "/" + std::to_string(num_updates) + " return " +
                        format_rate(EpisodeWindow::mean(recent, "return"));
    const double cheese = EpisodeWindow::mean(recent, "reached_cheese");
    if (!std::isnan(cheese)) extra += " cheese " + format_rate(cheese);
    if (update == num_updates)
      progress.finish(state.global_step, num_updates * batch, extra);
    else
      progress.update(state.global_step, num_updates * batch, extra);
  }
  collector.finish_experience();
  return run_dir.string();
}

}  // namespace shardlab
