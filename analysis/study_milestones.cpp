// `shardlab analyze milestones RUN_DIR [RUN_DIR ...]`: the developmental-milestones study
// (analysis/milestones.h) over the milestone checkpoints of one or more runs. Apart from the other
// studies' shape because it reads runs' histories, not one policy.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "analysis/milestones.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxResamples = 1000000;  // draws and permutations: enough for any percentile or p

void add_milestone_flags(po::options_description& flags) {
  flags.add_options()("help,h", "show this help")("run", po::value<std::vector<std::string>>(),
                                                  "the run folders (each its own run.seed, the same milestone steps)")(
      "episodes", po::value<int64_t>()->default_value(200), "episodes per evaluation (sampled actions)")(
      "seeds", po::value<std::string>()->default_value("0:300"),
      "test mazes A:B: every internal value is scored on them")(
      "fit-seeds", po::value<std::string>()->default_value("300:600"),
      "fit mazes A:B (disjoint from --seeds): the best channel is chosen and the probes are trained on them")(
      "layer", po::value<std::string>()->default_value("embedder.block2.res1.resadd_out"),
      "the spatial layer of the channels, the cheese vector and the probe")(
      "standard-errors", po::value<double>()->default_value(3.0),
      "K: the threshold K standard errors (step 0's) above step 0, and the least rise the halfway rule needs")(
      "draws", po::value<int64_t>()->default_value(1000), "bootstrap resamples of each milestone's episodes or mazes")(
      "permutations", po::value<int64_t>()->default_value(2000), "permutations of Kendall's W's test")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the resamples and the permutations")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key of the runs' spec for every evaluation")(
      "out", po::value<std::string>(), "output folder (default RUN_DIR/analysis with one run; needed with several)")(
      "force", "overwrite outputs");
}

std::pair<int64_t, int64_t> seed_range(const po::variables_map& vm, const std::string& flag) {
  const std::string text = vm[flag].as<std::string>();
  const auto range = parse_range(text, "--" + flag);
  if (range.first < 0 || range.second > 2147483647)
    throw InputError("--" + flag + " " + text + ": seeds are in [0, 2^31 - 1)");
  return range;
}

MilestoneOptions milestone_options(const po::variables_map& vm) {
  MilestoneOptions options;
  options.episodes = flag_at_least(vm, "episodes", 1);
  options.test_seeds = seed_range(vm, "seeds");
  options.fit_seeds = seed_range(vm, "fit-seeds");
  const auto& [a, b] = options.fit_seeds;
  const auto& [c, d] = options.test_seeds;
  if (a < d && c < b)
    throw InputError("--fit-seeds " + vm["fit-seeds"].as<std::string>() + " overlaps --seeds " +
                     vm["seeds"].as<std::string>() + ": nothing may be scored on the mazes it was fitted on");
  options.layer = vm["layer"].as<std::string>();
  if (vm.count("set")) options.overrides = vm["set"].as<std::vector<std::string>>();
  check_policy_overrides(options.overrides, "analyze milestones --set");
  options.crossing.standard_errors = vm["standard-errors"].as<double>();
  if (!(options.crossing.standard_errors > 0) || !std::isfinite(options.crossing.standard_errors))
    throw InputError("--standard-errors " + std::to_string(options.crossing.standard_errors) + ": expected above 0");
  options.crossing.draws = flag_at_least(vm, "draws", 100);
  if (options.crossing.draws > kMaxResamples) throw InputError("--draws: at most " + std::to_string(kMaxResamples));
  options.crossing.seed = static_cast<uint64_t>(flag_at_least(vm, "seed", 0));
  options.permutations = flag_at_least(vm, "permutations", 100);
  if (options.permutations > kMaxResamples)
    throw InputError("--permutations: at most " + std::to_string(kMaxResamples));
  return options;
}

}  // namespace

int milestones_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  po::options_description flags(
      "shardlab analyze milestones RUN_DIR [RUN_DIR ...] [--episodes N] [--seeds A:B] [--fit-seeds A:B] [--layer L]\n"
      "    [--standard-errors K] [--draws N] [--permutations N] [--seed S] [--out DIR]\n\n"
      "Measures every checkpoint in each RUN_DIR/milestones/ (train with run.milestone_every = N env steps; every\n"
      "run its own run.seed, the same steps): the cheese rate on the training distribution and on uniform cheese,\n"
      "the corner rate on uniform cheese, the best single cheese channel's R^2 (chosen on the fit mazes, scored on\n"
      "the test mazes), the cheese vector's effect at the decision square (with its same-norm random control), and\n"
      "a whole-layer probe's accuracy for the cheese's cell (fitted on the fit mazes, scored on the test mazes).\n"
      "Each quantity's thresholds are relative to the untrained network (step 0): halfway to the final value, and\n"
      "K standard errors above step 0; a crossing must hold at two consecutive milestones; its step gets a\n"
      "bootstrap interval; tied crossings share a rank. Across runs: Kendall's W of the order with a permutation\n"
      "p-value. Writes milestones.csv, milestones.json and milestones.svg");
  add_milestone_flags(flags);
  po::positional_options_description positional;
  positional.add("run", -1);
  const auto vm = parse_flags("analyze milestones", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("run")) throw InputError("shardlab analyze milestones: expected one or more run folders");
  const auto runs = vm["run"].as<std::vector<std::string>>();
  if (runs.size() > 1 && !vm.count("out"))
    throw InputError("analyze milestones: with several runs, say where the outputs go (--out DIR)");
  std::vector<std::vector<Milestone>> milestones;
  for (const auto& run : runs) milestones.push_back(run_milestones(run));
  check_comparable_runs(runs, milestones);
  const MilestoneOptions options = milestone_options(vm);

  const std::string out_dir = vm.count("out") ? vm["out"].as<std::string>() : (fs::path(runs[0]) / "analysis").string();
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError("--out " + out_dir + ": cannot create the folder: " + ec.message());
  const auto path = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };
  claim_outputs({path("milestones.csv"), path("milestones.json"), path("milestones.svg")}, vm.count("force") > 0);

  std::vector<MilestoneRun> measured;
  for (size_t r = 0; r < runs.size(); ++r) {
    std::cerr << "analyze milestones: " << milestones[r].size() << " checkpoints in " << runs[r] << "/milestones\n";
    measured.push_back(measure_milestones(runs[r], milestones[r], schema, options));
  }
  const MilestoneStudy study = analyze_milestones(std::move(measured), options);
  write_text_file(path("milestones.csv"), milestones_csv(study));
  write_text_file(path("milestones.json"), milestones_json(study));
  write_text_file(path("milestones.svg"), milestones_svg(study));
  std::cout << milestones_text(study);
  std::cout << "wrote " << path("milestones.csv") << ", .json, .svg\n";
  return 0;
}

}  // namespace shardlab::analysis
