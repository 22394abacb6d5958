// `shardlab render`: one episode of a Box2D task under a policy (scripted, or a trained run's,
// online or offline), as numbered PNG frames.
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
#include "core/error.h"
#include "core/png.h"
#include "core/rng.h"
#include "envs/box2d/box2d_draw.h"
#include "envs/collection.h"
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

}  // namespace

int cmd_render(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab render --env NAME --policy random|heuristic [--seed S] --out DIR [flags]\n"
      "shardlab render --run RUN_DIR|CHECKPOINT [--greedy] [--seed S] --out DIR [flags]");
  flags.add_options()("help,h", "show this help")("policy", po::value<std::string>()->default_value("random"),
                                                  "random, or heuristic (lunar landers)")(
      "run", po::value<std::string>(),
      "a trained policy (run folder or checkpoint: online or offline) in its own environment")(
      "greedy", "with --run: act with the policy's mode instead of sampling")(
      "seed", po::value<int64_t>(), "run.seed: the episode drawn (default: the spec's)")(
      "out", po::value<std::string>(), "folder for frame_00000.png, frame_00001.png, ... (required)")(
      "every", po::value<int64_t>()->default_value(1), "write every K-th frame (the last one always)")(
      "force", "overwrite frames already in the folder");
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("render", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("out")) throw InputError("shardlab render: --out DIR is required");
  const int64_t every = flag_at_least(vm, "every", 1);
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
  const auto* drawable = dynamic_cast<const box2d::Drawable*>(env.get());
  if (!drawable)
    throw InputError("shardlab render: environment '" + env_name +
                     "' has no frame renderer (the Box2D tasks do; `maze show --png` draws mazes)");
  const ActionSpec act = env->action_spec();
  const uint64_t policy_seed = mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kPolicyStream);
  at::Generator gen = at::detail::createCPUGenerator(policy_seed);
  ScriptedPolicy scripted(trained ? "random" : vm["policy"].as<std::string>(), find_env(env_name), act, policy_seed);
  const BehaviourPolicy policy = trained ? policy_behaviour(*trained, gen, vm.count("greedy") > 0)
                                         : scripted.behaviour(env->observation_spec().size());
  const std::string policy_name =
      trained ? trained->path + (vm.count("greedy") ? " (greedy)" : " (sampled)") : scripted.name();

  const std::string dir = vm["out"].as<std::string>();
  if (std::filesystem::exists(frame_path(dir, 0)) && !vm.count("force"))
    throw InputError("shardlab render: " + dir + " already holds frames; pass --force to overwrite them");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw FileError("cannot create " + dir + ": " + ec.message());

  std::vector<float> obs(env->observation_spec().size());
  std::vector<float> continuous(std::max<int64_t>(1, act.dim));
  int64_t written = 0;
  auto draw = [&] {
    const box2d::Scene scene = drawable->scene();
    write_png(frame_path(dir, written++), box2d::rasterize(scene).data(), scene.height, scene.width);
  };
  draw();
  for (int64_t t = 1;; ++t) {
    env->write_observation(obs.data());
    Action a;
    policy(obs.data(), 1, &a.index, continuous.data());
    if (!act.discrete) a.values = continuous.data();
    const bool done = env->step(a).done();
    if (done || t % every == 0) draw();
    if (done) break;
  }
  // With --force into a folder of a longer earlier episode, its later frames would be mixed in.
  int64_t stale = 0;
  for (int64_t frame = written; std::filesystem::remove(frame_path(dir, frame)); ++frame) ++stale;
  if (stale) std::cerr << "render: removed " << stale << " frames of the earlier episode in " << dir << "\n";
  const EpisodeStats stats = env->episode_stats();
  std::string outcome;
  for (const auto& [metric, value] : stats.metrics)
    if (value > 0.5 && metric.find('/') != std::string::npos) outcome = metric.substr(metric.find('/') + 1);
  std::cout << "wrote " << written << " frames to " << dir << " (" << env_name << ", seed " << spec.get_int("run.seed")
            << ", policy " << policy_name << ": return " << stats.episode_return << ", length " << stats.length
            << (outcome.empty() ? "" : ", " + outcome) << ")\n";
  return 0;
}

}  // namespace shardlab::cli
