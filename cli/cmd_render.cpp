// `shardlab render`: episodes of any environment under a policy (scripted, or a trained run's,
// online or offline), as numbered PNG frames in a folder or as an animated GIF.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "agents/scripted_policy.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/gif.h"
#include "core/png.h"
#include "core/rng.h"
#include "envs/collection.h"
#include "envs/frame.h"
#include "envs/registry.h"

namespace shardlab::cli {
namespace {

// The policy's RNG stream, apart from the environment's.
constexpr uint64_t kPolicyStream = 1ULL << 40;

std::string frame_path(const std::string& dir, int64_t frame) {
  char name[32];
  std::snprintf(name, sizeof name, "frame_%05lld.png", static_cast<long long>(frame));
  return (std::filesystem::path(dir) / name).string();
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// Where the frames go: numbered PNGs in a folder, or one GIF (opened at the first frame, whose
// size it takes).
class FrameSink {
 public:
  FrameSink(std::string out, int delay_cs) : out_(std::move(out)), delay_cs_(delay_cs) {}
  bool gif() const { return ends_with(out_, ".gif"); }
  void add(const Frame& frame) {
    if (frames_ == 0) width_ = frame.width, height_ = frame.height;
    if (frame.width != width_ || frame.height != height_)
      throw Error("render: frame " + std::to_string(frames_) + " is " + std::to_string(frame.width) + " x " +
                  std::to_string(frame.height) + ", the first was " + std::to_string(width_) + " x " +
                  std::to_string(height_));
    if (!gif()) {
      write_png(frame_path(out_, frames_), frame.chw.data(), frame.height, frame.width);
    } else {
      if (!writer_) writer_ = std::make_unique<GifWriter>(out_, frame.width, frame.height, delay_cs_);
      writer_->add_frame(frame.chw.data());
    }
    ++frames_;
  }
  void finish(bool force) {
    if (writer_) writer_->finish(force);
  }
  int64_t frames() const { return frames_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  std::string out_;
  int delay_cs_;
  std::unique_ptr<GifWriter> writer_;
  int64_t frames_ = 0;
  int width_ = 0, height_ = 0;
};

}  // namespace

int cmd_render(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab render --env NAME --policy random|heuristic [--seed S] --out DIR|FILE.gif [flags]\n"
      "shardlab render --run RUN_DIR|CHECKPOINT [--greedy] [--seed S] --out DIR|FILE.gif [flags]");
  flags.add_options()("help,h", "show this help")("policy", po::value<std::string>()->default_value("random"),
                                                  "random, or heuristic (lunar landers)")(
      "run", po::value<std::string>(),
      "a trained policy (run folder or checkpoint: online or offline) in its own environment")(
      "greedy", "with --run: act with the policy's mode instead of sampling")(
      "seed", po::value<int64_t>(), "run.seed: the episodes drawn (default: the spec's)")(
      "episodes", po::value<int64_t>()->default_value(1), "episodes, one after the other")(
      "out", po::value<std::string>(),
      "FILE.gif: an animated GIF (looping); otherwise a folder for frame_00000.png, frame_00001.png, ... (required)")(
      "every", po::value<int64_t>()->default_value(1), "draw every K-th step (and each episode's first and last)")(
      "fps", po::value<int64_t>()->default_value(20), "GIF frames per second (at most 100)")(
      "force", "overwrite the GIF or the frames already in the folder");
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("render", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("out")) throw InputError("shardlab render: --out DIR or --out FILE.gif is required");
  const std::string out = vm["out"].as<std::string>();
  if (ends_with(out, ".mp4"))
    throw InputError("shardlab render: --out " + out + ": MP4 is not built in (no ffmpeg libraries); use FILE.gif");
  const int64_t every = flag_at_least(vm, "every", 1);
  const int64_t episodes = flag_at_least(vm, "episodes", 1);
  const int64_t fps = flag_at_least(vm, "fps", 1);
  if (fps > 100)
    throw InputError("--fps " + std::to_string(fps) + ": expected at most 100 (GIF delays are in 1/100 s)");
  const bool force = vm.count("force") > 0;
  // The policy and the spec of its environment: a trained policy brings its own spec.
  std::optional<LoadedPolicy> trained;
  Spec spec(shardlab_schema());
  if (vm.count("run")) {
    if (vm.count("env")) throw InputError("shardlab render: --env goes with --policy; a run brings its environment");
    const std::string path = resolve_checkpoint(vm["run"].as<std::string>());
    trained = load_policy(path, shardlab_schema());
    std::vector<std::string> overrides;
    if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
    spec = Spec::from_text(shardlab_schema(), trained->spec_ini, path + " (spec)", overrides);
  } else {
    if (vm.count("greedy")) throw InputError("shardlab render: --greedy goes with --run");
    spec = load_spec(vm);
  }
  if (vm.count("seed")) spec.set("run.seed", std::to_string(flag_at_least(vm, "seed", 0)), "--seed");
  const std::string env_name = spec.get_string("env.name");
  auto env = make_env(spec, 0);
  const ActionSpec act = env->action_spec();
  const uint64_t policy_seed = mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kPolicyStream);
  at::Generator gen = at::detail::createCPUGenerator(policy_seed);
  ScriptedPolicy scripted(trained ? "random" : vm["policy"].as<std::string>(), find_env(env_name), act, policy_seed);
  const BehaviourPolicy policy = trained ? policy_behaviour(*trained, gen, vm.count("greedy") > 0)
                                         : scripted.behaviour(env->observation_spec().size());
  const std::string policy_name =
      trained ? trained->path + (vm.count("greedy") ? " (greedy)" : " (sampled)") : scripted.name();

  FrameSink sink(out, static_cast<int>(100 / fps));
  if (sink.gif()) {
    claim_outputs({out}, force);
  } else {
    if (std::filesystem::exists(frame_path(out, 0)) && !force)
      throw InputError("shardlab render: " + out + " already holds frames; pass --force to overwrite them");
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) throw FileError("cannot create " + out + ": " + ec.message());
  }

  std::vector<float> obs(env->observation_spec().size());
  std::vector<float> continuous(std::max<int64_t>(1, act.dim));
  for (int64_t episode = 0; episode < episodes; ++episode) {
    if (episode > 0) env->reset();
    sink.add(draw_frame(*env));
    for (int64_t t = 1;; ++t) {
      env->write_observation(obs.data());
      Action a;
      policy(obs.data(), 1, &a.index, continuous.data());
      if (!act.discrete) a.values = continuous.data();
      const bool done = env->step(a).done();
      if (done || t % every == 0) sink.add(draw_frame(*env));
      if (done) break;
    }
    const EpisodeStats stats = env->episode_stats();
    std::string outcome;
    for (const auto& [metric, value] : stats.metrics)
      if (value > 0.5 && metric.find('/') != std::string::npos) outcome = metric.substr(metric.find('/') + 1);
    std::cout << "episode " << episode + 1 << ": return " << stats.episode_return << ", length " << stats.length
              << (outcome.empty() ? "" : ", " + outcome) << "\n";
  }
  sink.finish(force);
  if (!sink.gif()) {
    // With --force into a folder of a longer earlier episode, its later frames would be mixed in.
    int64_t stale = 0;
    for (int64_t frame = sink.frames(); std::filesystem::remove(frame_path(out, frame)); ++frame) ++stale;
    if (stale) std::cerr << "render: removed " << stale << " frames of an earlier render in " << out << "\n";
  }
  std::cout << "wrote " << sink.frames() << " frames of " << sink.width() << " x " << sink.height() << " to " << out
            << " (" << env_name << ", seed " << spec.get_int("run.seed") << ", " << episodes << " episode"
            << (episodes == 1 ? "" : "s") << ", policy " << policy_name << ")\n";
  return 0;
}

}  // namespace shardlab::cli
