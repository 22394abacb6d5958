// `shardlab offline` (train an offline learner from a dataset) and `shardlab relabel` (a copy of
// a dataset with wrong rewards).
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "experiments/ablation.h"
#include "offline/dataset_maker.h"
#include "offline/offline_run.h"
#include "offline/relabel.h"

namespace shardlab::cli {

int cmd_offline(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab offline SPEC [--set key=value ...] [--set-from key=FILE ...] [--out DIR] [--resume]\n"
      "  trains offline.algo (bc, iql, atac) on offline.dataset with offline.reward labels\n"
      "  [--nproc N | --world-size W --rank R --master HOST:PORT] [--timeout S]: data-parallel, each rank\n"
      "  sampling its own offline.batch_size rows per step");
  flags.add_options()("help,h", "show this help");
  add_run_flags(flags);
  add_parallel_flags(flags);
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  add_set_from_flag(flags);
  const auto vm = parse_flags("offline", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("spec") && !vm.count("set"))
    throw InputError("shardlab offline: expected a spec file (or --set offline.dataset=FILE.h5 ...)");
  const Spec spec = load_spec(vm);
  TrainOptions options = run_options(vm, spec, "offline");
  if (const auto status = launch_or_join("offline", args, vm, spec, options, [](int64_t) {})) return *status;
  const std::string run_dir = train_offline(spec, options);
  if (options.ranks.leader()) std::cout << "run folder: " << run_dir << "\n";
  return 0;
}

int cmd_relabel(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab relabel IN.h5 OUT.h5 [--reward zero|random|negative|true] [--terminals keep|timeout] [--seed S]\n"
      "                 [--force]\n"
      "  a copy of IN.h5 with other reward labels, or with every terminal turned into a timeout (the\n"
      "  no-early-termination control), or both; the copy's metadata records what changed");
  flags.add_options()("help,h", "show this help")("in", po::value<std::string>(), "experience file to read")(
      "out", po::value<std::string>(), "experience file to write")(
      "reward", po::value<std::string>(), "new labels: zero, random (U[0, 1) per transition), negative, or true")(
      "terminals", po::value<std::string>(),
      "keep, or timeout: every terminal becomes a timeout, so the episode still ends there but no learner sees "
      "it end early")("seed", po::value<int64_t>()->default_value(0), "seed of the random labels")(
      "force", "replace OUT.h5 if it exists");
  po::positional_options_description positional;
  positional.add("in", 1).add("out", 1);
  const auto vm = parse_flags("relabel", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("in") || !vm.count("out")) throw InputError("shardlab relabel: expected IN.h5 OUT.h5");
  if (!vm.count("reward") && !vm.count("terminals"))
    throw InputError("shardlab relabel: give --reward (zero, random, negative or true), --terminals timeout, or both");
  const int64_t seed = flag_at_least(vm, "seed", 0);
  const RewardLabel label =
      parse_reward_label(vm.count("reward") ? vm["reward"].as<std::string>() : "true", "--reward");
  const TerminalLabel terminals =
      parse_terminal_label(vm.count("terminals") ? vm["terminals"].as<std::string>() : "keep", "--terminals");
  const std::string in = vm["in"].as<std::string>(), out = vm["out"].as<std::string>();
  const int64_t rows = relabel_file(in, out, label, static_cast<uint64_t>(seed), vm.count("force") > 0, terminals);
  std::cout << "wrote " << rows << " transitions to " << out << " (rewards " << describe_reward_label(label, seed)
            << (terminals == TerminalLabel::kTimeout ? "; every terminal turned into a timeout" : "") << ")\n";
  return 0;
}

int cmd_dataset(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab dataset make [SPEC] --task T --quality Q[,Q...] (--out FILE.h5 | --out-dir DIR) [--seed S] [--force]\n"
      "  tasks: bipedal_walker, lunar_lander_continuous, maze; qualities: random, medium, medium-replay, expert,\n"
      "  medium-expert. SPEC (or --set) gives dataset.* keys: dataset.size, dataset.expert_total_steps, ...");
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "make")(
      "task", po::value<std::string>(), "the task whose expert run the data comes from")(
      "quality", po::value<std::string>(), "dataset quality, or a comma-separated list with --out-dir")(
      "out", po::value<std::string>(), "the file to write (one quality)")(
      "out-dir", po::value<std::string>(), "write DIR/<task>-<quality>.h5 for each quality")(
      "seed", po::value<int64_t>()->default_value(0), "collection seed")("force", "replace existing files")(
      "missing", "make only the qualities whose files do not exist yet (a grid's dataset cell, run again)");
  po::positional_options_description positional;
  positional.add("action", 1);
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("dataset", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("action") || vm["action"].as<std::string>() != "make")
    throw InputError("shardlab dataset: expected `dataset make` (see --help)");
  if (!vm.count("task")) throw InputError("shardlab dataset make: --task is required");
  if (!vm.count("quality")) throw InputError("shardlab dataset make: --quality is required");
  if (vm.count("out") == vm.count("out-dir"))
    throw InputError("shardlab dataset make: give --out FILE or --out-dir DIR");
  const int64_t seed = flag_at_least(vm, "seed", 0);
  const Spec spec = load_spec(vm);
  const DatasetConfig config = DatasetConfig::from_spec(spec);
  const std::vector<std::string> qualities = split(vm["quality"].as<std::string>(), ',');
  if (vm.count("out") && qualities.size() != 1)
    throw InputError("--out takes one --quality; use --out-dir for several");
  // Every quality, the task and every output checked before the expert trains.
  std::vector<DatasetRequest> requests;
  std::vector<std::string> outs;
  for (const std::string& quality : qualities) {
    check_dataset_quality(quality, "--quality");
    DatasetRequest request;
    request.task = vm["task"].as<std::string>();
    request.quality = quality;
    request.out = vm.count("out") ? vm["out"].as<std::string>()
                                  : vm["out-dir"].as<std::string>() + "/" + request.task + "-" + quality + ".h5";
    request.seed = static_cast<uint64_t>(seed);
    request.force = vm.count("force") > 0;
    if (vm.count("missing") && !request.force && std::filesystem::exists(request.out)) continue;
    outs.push_back(request.out);
    requests.push_back(request);
  }
  expert_spec_path(vm["task"].as<std::string>());  // InputError for an unknown task
  claim_outputs(outs, vm.count("force") > 0);
  for (const DatasetRequest& request : requests) std::cout << make_dataset(request, config, shardlab_schema()) << "\n";
  return 0;
}

int cmd_ablate(const std::vector<std::string>& args) {
  const bool help = args.size() == 2 && (args[1] == "--help" || args[1] == "-h");
  if (!args.empty() && args[0] == "summarize") {
    if (help) {
      std::cout << "shardlab ablate summarize ROOT\n  rewrites ROOT/ablation.md, .svg, .csv and cells.csv from the "
                   "grid's finished cells (unfinished ones are listed as missing)\n";
      return 0;
    }
    if (args.size() != 2 || args[1].rfind("-", 0) == 0)
      throw InputError("shardlab ablate summarize: expected the grid folder ROOT (ablate.out)");
    std::cout << summarize_ablation(args[1]);
    return 0;
  }
  if (!args.empty() && args[0] == "choose-beta") {
    if (help) {
      std::cout << "shardlab ablate choose-beta ROOT TASK QUALITY\n  the grid's choose cell: ATAC's beta for one "
                   "dataset, the candidate (ablate.atac_betas) with the best mean normalized score of the true-reward "
                   "runs on ablate.beta_seeds; writes ROOT/choices/TASK-QUALITY-beta.json and .txt\n";
      return 0;
    }
    if (args.size() != 4 || args[1].rfind("-", 0) == 0)
      throw InputError("shardlab ablate choose-beta: expected ROOT TASK QUALITY");
    choose_ablation_beta(args[1], args[2], args[3]);
    return 0;
  }
  po::options_description flags(
      "shardlab ablate SPEC [--set key=value ...] [--jobs N]\n"
      "               [--emit slurm [--time T] [--cpus-per-task C] [--mem M] [--sbatch OPTION ...]]\n"
      "shardlab ablate summarize ROOT\n"
      "shardlab ablate choose-beta ROOT TASK QUALITY\n"
      "  the survival-instinct grid of the spec's ablate.* keys in ROOT (ablate.out): the datasets and their\n"
      "  no-termination copies, every cell, ATAC's beta per dataset, the tables and a chart; rerun to continue an\n"
      "  unfinished grid. --emit slurm writes ROOT/STAGE.sbatch per stage (datasets, runs, [choose, atac,] summary;\n"
      "  job arrays) and ROOT/submit.sh, which submits them in order");
  flags.add_options()("help,h", "show this help")("jobs", po::value<int>()->default_value(2),
                                                  "cells run at once (each a process with run.threads threads); "
                                                  "with --emit slurm, each array's limit of running tasks");
  add_slurm_flags(flags);
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("ablate", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("spec")) throw InputError("shardlab ablate: expected a spec (experiments/survival_instinct.ini)");
  const Spec spec = load_spec(vm);
  const int jobs = static_cast<int>(flag_at_least(vm, "jobs", 1));
  const std::optional<SlurmOptions> slurm =
      slurm_options(vm, vm["jobs"].defaulted() ? 0 : jobs, spec.get_string("ablate.out"));
  if (!slurm) {
    run_ablation(spec, vm["spec"].as<std::string>(), self_executable(), jobs);
    return 0;
  }
  const AblationGrid prepared = prepare_ablation(spec, vm["spec"].as<std::string>());
  emit_and_explain(prepared.grid, *slurm, "ablate summarize " + prepared.grid.dir);
  return 0;
}

}  // namespace shardlab::cli
