// `shardlab analyze milestones RUN`: the developmental-milestones study (analysis/milestones.h) over
// a run folder's milestone checkpoints. Apart from the other studies' shape because it reads a run's
// history, not one policy.
#include <filesystem>
#include <iostream>

#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "analysis/milestones.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

void add_milestone_flags(po::options_description& flags) {
  flags.add_options()("help,h", "show this help")("run", po::value<std::string>(), "the run folder")(
      "episodes", po::value<int64_t>()->default_value(200), "episodes per evaluation (sampled actions)")(
      "seeds", po::value<std::string>()->default_value("0:300"), "maze seeds A:B of the internal measures")(
      "layer", po::value<std::string>()->default_value("embedder.block2.res1.resadd_out"),
      "the spatial layer of the channels, the cheese vector and the probe")(
      "threshold", po::value<std::vector<std::string>>()->composing(),
      "NAME=V: the threshold of one measure (train_cheese_rate, uniform_cheese_rate, uniform_corner_rate, "
      "best_channel_score, cheese_vector_effect, probe_accuracy)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key of the run's spec for every evaluation")(
      "out", po::value<std::string>(), "output folder (default RUN_DIR/analysis)")("force", "overwrite outputs");
}

MilestoneOptions milestone_options(const po::variables_map& vm) {
  MilestoneOptions options;
  options.episodes = flag_at_least(vm, "episodes", 1);
  const auto range = parse_range(vm["seeds"].as<std::string>(), "--seeds");
  if (range.first < 0 || range.second > 2147483647)
    throw InputError("--seeds " + vm["seeds"].as<std::string>() + ": seeds are in [0, 2^31 - 1)");
  options.maze_begin = range.first;
  options.maze_end = range.second;
  options.layer = vm["layer"].as<std::string>();
  if (vm.count("set")) options.overrides = vm["set"].as<std::vector<std::string>>();
  check_policy_overrides(options.overrides, "analyze milestones --set");
  return options;
}

// The default thresholds with those of --threshold NAME=V instead.
std::map<std::string, MilestoneThreshold> milestone_thresholds(const po::variables_map& vm) {
  auto thresholds = default_milestone_thresholds();
  if (vm.count("threshold"))
    for (const auto& t : vm["threshold"].as<std::vector<std::string>>()) {
      const auto eq = t.find('=');
      const std::string name = t.substr(0, eq);
      if (eq == std::string::npos || !thresholds.count(name))
        throw InputError("--threshold " + t + ": expected NAME=V with NAME one of train_cheese_rate, " +
                         "uniform_cheese_rate, uniform_corner_rate, best_channel_score, cheese_vector_effect, "
                         "probe_accuracy");
      const auto value = parse_double(t.substr(eq + 1));
      if (!value) throw InputError("--threshold " + t + ": '" + t.substr(eq + 1) + "' is not a number");
      thresholds[name].value = *value;
    }
  return thresholds;
}

// Each measure's first crossing and the order, on stdout.
void print_milestones(const std::string& run, const MilestoneStudy& study) {
  std::cout << "milestones of " << run << " (" << study.mazes << " mazes with cheese, " << study.dropped
            << " outside the run's maze sizes left out; " << study.decision_square_mazes
            << " with a decision square):\n";
  for (const auto& name : milestone_measures()) {
    if (!study.first_crossing.count(name)) continue;
    const int64_t first = study.first_crossing.at(name);
    std::cout << "  " << name << " >= " << study.thresholds.at(name).value << ": "
              << (first >= 0 ? "step " + std::to_string(first) : "never") << '\n';
  }
  std::cout << "order:";
  for (const auto& name : study.order) std::cout << ' ' << name;
  std::cout << '\n';
}

}  // namespace

int milestones_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  po::options_description flags(
      "shardlab analyze milestones RUN_DIR [--episodes N] [--seeds A:B] [--layer L] [--threshold NAME=V ...] "
      "[--out DIR]\n\n"
      "Measures every checkpoint in RUN_DIR/milestones/ (train with run.milestone_every = N env steps): the\n"
      "cheese rate on the training distribution and on uniform cheese, the corner rate on uniform cheese, the\n"
      "best cheese channel's score, the cheese vector's effect at the decision square (with its same-norm\n"
      "random control), and a cheese-position probe's accuracy; then the first step each crosses its\n"
      "threshold, and the order. Writes milestones.csv, milestones.json and milestones.svg");
  add_milestone_flags(flags);
  po::positional_options_description positional;
  positional.add("run", 1);
  const auto vm = parse_flags("analyze milestones", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("run")) throw InputError("shardlab analyze milestones: expected a run folder");
  const std::string run = vm["run"].as<std::string>();
  const auto milestones = run_milestones(run);
  const MilestoneOptions options = milestone_options(vm);
  const auto thresholds = milestone_thresholds(vm);

  const std::string out_dir = vm.count("out") ? vm["out"].as<std::string>() : (fs::path(run) / "analysis").string();
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw InputError("--out " + out_dir + ": cannot create the folder: " + ec.message());
  const auto path = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };
  claim_outputs({path("milestones.csv"), path("milestones.json"), path("milestones.svg")}, vm.count("force") > 0);

  std::cerr << "analyze milestones: " << milestones.size() << " checkpoints in " << run << "/milestones\n";
  const auto study = measure_milestones(run, milestones, schema, options, thresholds);
  write_text_file(path("milestones.csv"), milestones_csv(study));
  write_text_file(path("milestones.json"), milestones_json(study));
  write_text_file(path("milestones.svg"), milestones_svg(study));
  print_milestones(run, study);
  std::cout << "wrote " << path("milestones.csv") << ", .json, .svg\n";
  return 0;
}

}  // namespace shardlab::analysis
