// `shardlab demo`: the main job on built-in defaults, what the README's first command runs.
//  1. Procgen mazes with the cheese in the top-right region, drawn;
//  2. a random-policy collection in the shared experience format, inspected;
//  3. the recipe experiments/recipes/demo.ini (`shardlab reproduce demo`): PPO trained with the
//     cheese near the top-right corner, evaluated with the cheese anywhere against a random policy,
//     and a first look inside (the cheese vector against a random vector, channels, a vector field);
//  4. one self-contained HTML report that leads with what it found, DIR/report.html.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "experiments/reproduce.h"
#include "experiments/result_page.h"

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
  flags.add_options()("help,h", "show this help")(
      "out", po::value<std::string>()->default_value("runs/demo"),
      "output folder (an unfinished demo there is resumed; runs/demo-quick with --quick)")(
      "quick",
      "the demo recipe at its smoke scale (seconds, not a real agent) instead of its full scale (`reproduce --list` gives "
      "its wall time)")(
      "fresh",
      "measure again: remove the results of an earlier demo in the folder (its trained run is reused when it matches)")(
      "jobs", po::value<int64_t>()->default_value(2), "processes at once (the training's two ranks count two)");
}

}  // namespace

int cmd_demo(const std::vector<std::string>& args) {
  po::options_description flags("shardlab demo [--out DIR] [--quick] [--fresh] [--jobs N]");
  add_demo_flags(flags);
  po::positional_options_description positional;
  const auto vm = parse_flags("demo", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  ReproduceOptions options;
  options.jobs = static_cast<int>(flag_at_least(vm, "jobs", 1));
  options.smoke = vm.count("quick") > 0;
  options.fresh = vm.count("fresh") > 0;
  options.out = vm["out"].defaulted() && options.smoke ? "runs/demo-quick" : vm["out"].as<std::string>();
  const std::string dir = options.out;
  const Recipe recipe = find_recipe("demo");
  fs::create_directories(dir);

  PartTimes times;
  times.start("1. mazes");
  std::cout << "== 1. Procgen mazes, level seeds 0..3, cheese in the top-right 5x5 region\n";
  cmd_maze({"show", "--seeds", "0:4", "--placement", "top_right_region:5", "--svg", dir + "/mazes.svg", "--force"});
  std::cout << "drew " << dir << "/mazes.svg\n\n== 2. A random policy in 16 hard mazes, uniform cheese\n";
  times.start("2. random-policy collection");
  const std::string data = dir + "/random_maze.h5";
  collect_scripted(Spec::load(shardlab_schema(), "", {"env.num_envs=16"}), "random", 20000, data, /*force=*/true,
                   /*next_observations=*/false);
  const std::string listing = describe_h5(data);
  std::cout << listing.substr(listing.find("experience:")) << "\n";

  times.start("3. reproduce demo");
  std::cout << "== 3. `shardlab reproduce demo" << (options.smoke ? " --smoke" : "") << "`: " << recipe.title
            << " (progress on stderr, each step's output in " << dir << "/demo/logs/)\n"
            << std::flush;
  const std::string result_path = reproduce(recipe, options, self_executable());
  const auto result = nlohmann::ordered_json::parse(read_text_file(result_path));
  std::cout << "\n" << result_findings(result) << "All of it, with the commands: " << dir << "/demo/result.md\n";

  times.start("4. report");
  std::cout << "\n== 4. The report (open it in a browser)\n" << std::flush;
  cmd_report({dir, "--out", dir + "/report.html", "--force"});
  times.stop();
  times.print();
  return 0;
}

}  // namespace shardlab::cli
