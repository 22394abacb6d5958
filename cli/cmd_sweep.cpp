// `shardlab sweep`: seeds x a grid of spec values, each cell trained and evaluated in its own
// processes here or as a SLURM job array (experiments/sweep.h); `sweep summarize`.
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"
#include "experiments/sweep.h"

namespace shardlab::cli {
namespace {

constexpr const char* kSweepUsage =
    "shardlab sweep SPEC --seeds A:B [--grid key=v1,v2 ...] [--set key=value ...] --out DIR\n"
    "               [--jobs N] [--nproc R] [--episodes N] [--greedy] [--eval-set key=value ...]\n"
    "               [--emit slurm [--time T] [--cpus-per-task C] [--mem M] [--sbatch OPTION ...]]\n"
    "shardlab sweep summarize DIR [--metric NAME]\n"
    "  every cell (a seed and one value of each --grid key) is `shardlab train` into DIR/runs/<cell>/,\n"
    "  then `shardlab eval` into DIR/runs/<cell>/eval.json; rerun to continue (finished cells are\n"
    "  skipped, started ones resume). --emit slurm writes DIR/runs.sbatch (one array task per cell)\n"
    "  and DIR/submit.sh; `shardlab grid status DIR` lists the unfinished cells";

int cmd_sweep_summarize(const std::vector<std::string>& args) {
  po::options_description flags("shardlab sweep summarize DIR [--metric NAME]");
  flags.add_options()("help,h", "show this help")("dir", po::value<std::string>(), "the sweep folder")(
      "metric", po::value<std::string>()->default_value("mean_return"),
      "what summary.svg draws: mean_return, mean_length or a rate of the eval (cheese_rate, ...)");
  po::positional_options_description positional;
  positional.add("dir", 1);
  const auto vm = parse_flags("sweep summarize", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("dir")) throw InputError("shardlab sweep summarize: expected the sweep folder DIR");
  std::cout << summarize_sweep(vm["dir"].as<std::string>(), vm["metric"].as<std::string>());
  return 0;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "summarize") return cmd_sweep_summarize({args.begin() + 1, args.end()});
  po::options_description flags(kSweepUsage);
  flags.add_options()("help,h", "show this help")("seeds", po::value<std::string>(),
                                                  "seeds A:B of every grid point (run.seed = A, ..., B-1)")(
      "grid", po::value<std::vector<std::string>>()->composing(),
      "a spec key and its values: --grid train.learning_rate=1e-3,5e-4 (';' between values that hold commas)")(
      "out", po::value<std::string>(), "the sweep folder (rerun with the same DIR to continue)")(
      "jobs", po::value<int>(),
      "processes at once (default: as many cells as fit the cores); with --emit slurm, "
      "the array's limit of running tasks")("nproc", po::value<int64_t>()->default_value(1),
                                            "ranks of each cell's data-parallel training")(
      "episodes", po::value<int64_t>(), "episodes of each cell's final eval (default: the spec's eval.episodes)")(
      "greedy", "evaluate the most likely action (default: the spec's eval.greedy)")(
      "eval-set", po::value<std::vector<std::string>>()->composing(),
      "override a key of each cell's spec in its eval only: --eval-set env.placement=uniform");
  add_slurm_flags(flags);
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("sweep", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("spec")) throw InputError("shardlab sweep: expected a spec file (experiments/*.ini)");
  if (!vm.count("seeds")) throw InputError("shardlab sweep: --seeds A:B is required");
  if (!vm.count("out")) throw InputError("shardlab sweep: --out DIR is required");
  SweepRequest request;
  request.spec = vm["spec"].as<std::string>();
  if (vm.count("env")) request.sets.push_back("env.name=" + vm["env"].as<std::string>());
  if (vm.count("set"))
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) request.sets.push_back(s);
  request.seeds = vm["seeds"].as<std::string>();
  if (vm.count("grid")) request.grid = vm["grid"].as<std::vector<std::string>>();
  request.nproc = flag_at_least(vm, "nproc", 1);
  if (vm.count("episodes")) request.episodes = flag_at_least(vm, "episodes", 1);
  request.greedy = vm.count("greedy") > 0;
  if (vm.count("eval-set")) request.eval_sets = vm["eval-set"].as<std::vector<std::string>>();
  request.out = vm["out"].as<std::string>();
  request.command = {"shardlab", "sweep"};
  request.command.insert(request.command.end(), args.begin(), args.end());
  const int jobs = vm.count("jobs") ? static_cast<int>(flag_at_least(vm, "jobs", 1)) : 0;

  const std::optional<SlurmOptions> slurm = slurm_options(vm, jobs, request.out);
  const SweepPlan plan = prepare_sweep(request);
  if (!slurm) {
    run_sweep(plan, self_executable(), jobs);
    return 0;
  }
  emit_and_explain(sweep_grid(plan), *slurm, "sweep summarize " + plan.dir);
  return 0;
}

}  // namespace shardlab::cli
