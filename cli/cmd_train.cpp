// `shardlab train` and `shardlab eval`.
#include <fstream>
#include <iostream>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "agents/trainer.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"

namespace shardlab::cli {

int cmd_train(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab train SPEC [--set key=value ...] [--out DIR] [--resume]\n"
      "               [--nproc N | --world-size W --rank R --master HOST:PORT] [--timeout S]");
  flags.add_options()("help,h", "show this help");
  add_run_flags(flags);
  add_parallel_flags(flags);
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("train", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("spec"))
    throw InputError(
        "shardlab train: expected a spec file (experiments/*.ini); `shardlab demo` runs the built-in defaults");
  const Spec spec = load_spec(vm);
  TrainOptions options = run_options(vm, spec, "default");
  const auto check = [&](int64_t ranks) { rank_envs(spec, ranks); };
  if (const auto status = launch_or_join("train", args, vm, spec, options, check)) return *status;
  const std::string run_dir = train(spec, options);
  if (options.ranks.leader()) std::cout << "run folder: " << run_dir << "\n";
  return 0;
}

int cmd_eval(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab eval RUN_DIR|CHECKPOINT [--set env.key=value ...] [--episodes N] [--out FILE.json]\n"
      "shardlab eval --env NAME --policy random|heuristic [--set key=value ...] [--episodes N] [--out FILE.json]\n"
      "shardlab eval RUN_DIR|CHECKPOINT --policy random|heuristic [--set env.key=value ...]: the policy in the run's "
      "environments (a control)");
  flags.add_options()("help,h", "show this help")("run", po::value<std::string>(), "run folder or checkpoint file")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key of the run's spec (or of the defaults)")(
      "env", po::value<std::string>(), "with --policy: the environment (shorthand for --set env.name=NAME)")(
      "policy", po::value<std::string>(),
      "evaluate an untrained policy instead of a trained one: random, or heuristic (lunar landers); with a run, in "
      "its environments")("episodes", po::value<int64_t>(), "episodes to run (default 200)")(
      "greedy", "take the most likely action instead of sampling")(
      "out", po::value<std::string>(), "also write the JSON to this file")("force", "overwrite an existing --out file");
  po::positional_options_description positional;
  positional.add("run", 1);
  const auto vm = parse_flags("eval", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  check_policy_overrides(overrides, "eval --set");
  const int64_t episodes = vm.count("episodes") ? flag_at_least(vm, "episodes", 1) : kDefaultEvalEpisodes;
  if (vm.count("out")) claim_outputs({vm["out"].as<std::string>()}, vm.count("force") > 0);
  EvalResult result;
  if (vm.count("policy")) {
    if (vm.count("greedy")) throw InputError("shardlab eval: --greedy applies to trained policies, not --policy");
    if (vm.count("run") && vm.count("env"))
      throw InputError("shardlab eval: with a run, --policy plays in the run's environment; leave out --env");
    if (vm.count("env")) overrides.insert(overrides.begin(), "env.name=" + vm["env"].as<std::string>());
    // With a run: the control in the run's own environments (its spec, then --set).
    const std::string checkpoint = vm.count("run") ? resolve_checkpoint(vm["run"].as<std::string>()) : "";
    const Spec spec = checkpoint.empty()
                          ? Spec::load(shardlab_schema(), "", overrides)
                          : Spec::from_text(shardlab_schema(), load_policy(checkpoint, shardlab_schema()).spec_ini,
                                            checkpoint + " (spec)", overrides);
    result = evaluate_scripted(spec, vm["policy"].as<std::string>(), episodes);
    if (!checkpoint.empty()) result.context["environment_of"] = checkpoint;
  } else {
    if (!vm.count("run")) throw InputError("shardlab eval: expected a run folder or checkpoint, or --policy");
    if (vm.count("env"))
      throw InputError(
          "shardlab eval: --env goes with --policy; a run's environment comes from its spec (--set env.KEY=...)");
    result = evaluate_checkpoint(vm["run"].as<std::string>(), shardlab_schema(), overrides, episodes,
                                 vm.count("greedy") > 0);
  }
  const std::string json = result.to_json();
  if (vm.count("out")) write_text_file(vm["out"].as<std::string>(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::cli
