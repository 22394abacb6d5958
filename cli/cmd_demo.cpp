// `shardlab demo`: the main job on built-in defaults, what the README's first command runs.
// For now: Procgen mazes drawn, a random-policy collection, and what the file holds.
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "core/experience_file.h"

namespace shardlab::cli {

int cmd_demo(const std::vector<std::string>& args) {
  po::options_description flags("shardlab demo [--out DIR]");
  flags.add_options()("help,h", "show this help")("out", po::value<std::string>()->default_value("runs/demo"),
                                                  "output folder (its demo files are replaced)")(
      "steps", po::value<int64_t>()->default_value(20000), "transitions to collect");
  po::positional_options_description positional;
  const auto vm = parse_flags("demo", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  const std::string dir = vm["out"].as<std::string>();
  std::filesystem::create_directories(dir);

  std::cout << "== Procgen mazes, level seeds 0..3, cheese in the top-right 5x5 region (goal-misgeneralization "
               "training distribution)\n";
  cmd_maze({"show", "--seeds", "0:4", "--placement", "top_right_region:5", "--png", dir + "/mazes.png"});
  std::cout << "drew " << dir << "/mazes.png\n\n== Random policy, 16 hard mazes with uniform cheese\n";
  const Spec spec = Spec::load(shardlab_schema(), "", {"env.num_envs=16"});
  const std::string data = dir + "/random_maze.h5";
  collect_experience(spec, "random", vm["steps"].as<int64_t>(), data, /*force=*/true, /*next_observations=*/false);
  std::cout << "\n== shardlab inspect " << data << "\n" << describe_h5(data);
  return 0;
}

}  // namespace shardlab::cli
