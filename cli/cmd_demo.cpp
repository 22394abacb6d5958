// `shardlab demo`: the main job on built-in defaults, what the README's first command runs.
//  1. Procgen mazes with the cheese in the top-right region, drawn;
//  2. a random-policy collection in the shared experience format, inspected;
//  3. PPO trained on experiments/ppo_maze_demo.ini (cheese always near the top-right corner);
//  4. the agent evaluated on its training distribution and with the cheese anywhere;
//  5. a short look inside: the cheese vector, the channels that track the cheese, a vector field.
//  6. one self-contained HTML report of it all, DIR/report.html (`shardlab report`).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <utility>
#include <vector>

#include "agents/evaluate.h"
#include "analysis/maze_policy.h"
#include "analysis/steering.h"
#include "analysis/vector_field.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "envs/maze/maze_env.h"

namespace shardlab::cli {
namespace fs = std::filesystem;

namespace {

// Wall time of each part of the demo, printed at its end (so a user sees where the minutes went).
class PartTimes {
 public:
  // Ends the part running now (if any) and starts `name`.
  void start(const std::string& name) {
    stop();
    name_ = name;
    begin_ = std::chrono::steady_clock::now();
  }
  void stop() {
    if (name_.empty()) return;
    times_.emplace_back(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count());
    name_.clear();
  }
  void print() const {
    double total = 0;
    std::cout << "\n== Wall time per step\n";
    for (const auto& [name, seconds] : times_) {
      std::printf("%-36s %8.1f s\n", name.c_str(), seconds);
      total += seconds;
    }
    std::printf("%-36s %8.1f s (%.1f min)\n", "total", total, total / 60.0);
  }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point begin_;
  std::vector<std::pair<std::string, double>> times_;
};

void add_demo_flags(po::options_description& flags) {
  flags.add_options()("help,h", "show this help")("out", po::value<std::string>()->default_value("runs/demo"),
                                                  "output folder (an unfinished demo run there is resumed)")(
      "quick", "train the smoke spec (seconds) instead of the demo spec (about 14 minutes on 2 cores)")(
      "episodes", po::value<int64_t>()->default_value(500), "evaluation episodes per row of the evaluation table")(
      "nproc", po::value<int64_t>()->default_value(2),
      "train as N data-parallel ranks of run.threads torch threads each (`train --nproc`)");
}

// One row of the evaluation table: a policy, where the cheese goes, the episode limit, its JSON file.
struct EvalRow {
  std::string policy, placement, file;
  int64_t limit;
};

// The agent on its training placement and with the cheese anywhere, in the spec's episodes and
// in Procgen's own (500 steps; the spec's shorter limit is a training speed-up), and a uniformly
// random policy in the same episodes as the control: how often chance alone reaches the corner first.
std::vector<EvalRow> evaluation_rows(const std::string& train_placement, int64_t spec_limit) {
  const std::vector<int64_t> limits = spec_limit == maze::kDefaultTimeLimit
                                          ? std::vector<int64_t>{spec_limit}
                                          : std::vector<int64_t>{spec_limit, maze::kDefaultTimeLimit};
  std::vector<EvalRow> rows = {{"trained", train_placement, "eval_train", spec_limit}};
  for (const std::string& policy : {std::string("trained"), std::string("random")})
    for (const int64_t limit : limits)
      rows.push_back({policy, "uniform",
                      "eval_" + (policy == "random" ? std::string("random_") : std::string()) + "uniform" +
                          (limit == spec_limit ? "" : "_" + std::to_string(limit) + "_steps"),
                      limit});
  return rows;
}

// Part 4: evaluates each row, writes its DIR/eval_*.json and prints the table.
void print_evaluation_table(const Spec& spec, const std::string& spec_path, const std::string& run,
                            const std::string& dir, int64_t episodes) {
  const std::string train_placement = spec.get_string("env.placement");
  const int64_t spec_limit = maze::MazeConfig::from_spec(spec).max_episode_steps;
  const std::vector<EvalRow> rows = evaluation_rows(train_placement, spec_limit);
  std::printf("%-8s %-36s %6s %8s %22s %22s\n", "policy", "cheese placement", "steps", "episodes",
              "cheese rate (95% CI)", "corner first (95% CI)");
  for (const EvalRow& row : rows) {
    const std::vector<std::string> overrides = {"env.placement=" + row.placement,
                                                "env.max_episode_steps=" + std::to_string(row.limit)};
    const EvalResult r =
        row.policy == "trained"
            ? evaluate_checkpoint(run, shardlab_schema(), overrides, episodes, /*greedy=*/false)
            : evaluate_scripted(Spec::load(shardlab_schema(), spec_path, overrides), "random", episodes);
    write_text_file(dir + "/" + row.file + ".json", r.to_json());
    const auto& c = r.rates.at("cheese_rate");
    const auto& k = r.rates.at("corner_rate");
    std::printf("%-8s %-36s %6lld %8lld %8.3f [%.3f, %.3f] %8.3f [%.3f, %.3f]\n", row.policy.c_str(),
                (row.placement + (row.placement == train_placement ? " (training)" : " (test)")).c_str(),
                static_cast<long long>(row.limit), static_cast<long long>(r.episodes), c.rate, c.low, c.high, k.rate,
                k.low, k.high);
  }
  std::cout << "\n'corner first': the mouse reached the maze's top-right cell before the cheese; 'steps': the "
               "episode limit ("
            << spec_limit << " in the spec, " << maze::kDefaultTimeLimit << " in Procgen). Results in " << dir
            << "/eval_*.json; metrics in " << run << "/metrics.csv\n";
}

// Part 5: the cheese vector, the channels that track the cheese, and a vector field.
void look_inside_policy(const std::string& run, const std::string& dir) {
  const std::string analysis_dir = dir + "/analysis";
  const std::string layer = "embedder.block2.res1.resadd_out";
  std::cout
      << "\n== 5. Inside the policy (" << layer << ", uniform cheese, seeds 0..299)\n"
      << "-- the cheese vector subtracted (coeff -1) at the decision square, and a random vector of the same norm:\n"
      << std::flush;
  cmd_analyze({"cheese-vector", run, "--seeds", "0:300", "--out", analysis_dir});
  std::cout << "-- the channels whose maximum sits on the cheese:\n" << std::flush;
  cmd_analyze({"channels", run, "--seeds", "0:300", "--top", "5", "--out", analysis_dir});
  // A vector field, original / cheese vector subtracted / difference, on the first maze with a decision square.
  const auto policy = analysis::MazePolicy::load(run, shardlab_schema(), {"env.placement=uniform"});
  for (uint32_t seed = 0; seed < 300; ++seed) {
    const auto maze = policy.level(seed);
    if (!maze || !analysis::find_decision_square(*maze)) continue;
    ActivationTaps taps;
    analysis::add_patch_from_text(policy, *maze, "cheese-vector:" + layer + ":-1", taps);
    const auto original = analysis::vector_field(policy, *maze);
    const auto patched = analysis::vector_field(policy, *maze, &taps);
    analysis::draw_vector_fields(original, &patched, "cheese-vector:" + layer + ":-1",
                                 analysis_dir + "/vector_field.svg");
    std::cout << "drew " << analysis_dir << "/vector_field.svg (seed " << seed
              << ": original | cheese vector subtracted | difference)\n";
    break;
  }
  std::cout << "Per-maze results in " << analysis_dir << "/; `shardlab analyze --help` lists the other studies.\n";
}

}  // namespace

int cmd_demo(const std::vector<std::string>& args) {
  po::options_description flags("shardlab demo [--out DIR] [--quick] [--episodes N] [--nproc N]");
  add_demo_flags(flags);
  po::positional_options_description positional;
  const auto vm = parse_flags("demo", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  const int64_t nproc = flag_at_least(vm, "nproc", 1);
  const int64_t episodes = flag_at_least(vm, "episodes", 1);
  const std::string dir = vm["out"].as<std::string>();
  fs::create_directories(dir);
  const std::string spec_name = vm.count("quick") ? "ppo_maze_smoke" : "ppo_maze_demo";
  const std::string spec_path = std::string(SHARDLAB_SOURCE_DIR) + "/experiments/" + spec_name + ".ini";

  PartTimes times;
  times.start("1. mazes");
  std::cout << "== 1. Procgen mazes, level seeds 0..3, cheese in the top-right 5x5 region\n";
  cmd_maze({"show", "--seeds", "0:4", "--placement", "top_right_region:5", "--svg", dir + "/mazes.svg"});
  std::cout << "drew " << dir << "/mazes.svg\n\n== 2. A random policy in 16 hard mazes, uniform cheese\n";
  times.start("2. random-policy collection");
  const std::string data = dir + "/random_maze.h5";
  collect_scripted(Spec::load(shardlab_schema(), "", {"env.num_envs=16"}), "random", 20000, data, /*force=*/true,
                   /*next_observations=*/false);
  const std::string listing = describe_h5(data);
  std::cout << listing.substr(listing.find("experience:")) << "\n";

  // A resumed or finished run says so, since its time is not a training time.
  const bool resume = fs::exists(fs::path(dir) / spec_name / "spec.ini");
  times.start(resume ? "3. PPO training (resumed or done before)" : "3. PPO training");
  std::cout << "== 3. PPO on " << spec_path << " (cheese always near the top-right corner), " << nproc
            << (nproc == 1 ? " rank" : " data-parallel ranks") << "\n"
            << std::flush;
  const Spec spec = Spec::load(shardlab_schema(), spec_path, {});
  std::vector<std::string> train_args = {spec_path, "--out", dir, "--nproc", std::to_string(nproc)};
  if (resume) train_args.push_back("--resume");
  if (const int status = cmd_train(train_args); status != 0) return status;
  const std::string run = (fs::path(dir) / spec_name).string();

  times.start("4. evaluation");
  std::cout << "\n== 4. Evaluation of " << run << "\n";
  print_evaluation_table(spec, spec_path, run, dir, episodes);

  times.start("5. inside the policy");
  look_inside_policy(run, dir);

  // One page of everything above; a rerun of the demo regenerates it.
  times.start("6. report");
  std::cout << "\n== 6. The report (open it in a browser)\n" << std::flush;
  cmd_report({dir, "--out", dir + "/report.html", "--force"});
  times.stop();
  times.print();
  return 0;
}

}  // namespace shardlab::cli
