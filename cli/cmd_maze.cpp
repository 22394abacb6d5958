// `shardlab maze show`: Procgen's layouts in the record format of the reference data.
// `shardlab maze frames`: the observations of one level along a list of actions, as PNG files.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "envs/maze/maze_env.h"
#include "envs/maze/maze_generator.h"
#include "envs/maze/maze_render.h"
#include "media/figure.h"
#include "media/png.h"

namespace shardlab::cli {
namespace {

constexpr int kMaxDrawnMazes = 400;

// An SVG figure of the mazes side by side, each captioned with its level seed and size, 8 pixels
// per cell (16 for a single maze).
void draw_mazes(const std::vector<maze::MazeLayout>& mazes, const std::string& distribution,
                const std::string& placement, const std::string& path) {
  const int world = mazes[0].world_size;
  const int tile = world * (mazes.size() == 1 ? 16 : 8);
  const maze::MazeRaster raster(world, tile);
  Figure f;
  const std::string seeds = mazes.size() == 1 ? "level seed " + std::to_string(mazes[0].level_seed)
                                              : "level seeds " + std::to_string(mazes.front().level_seed) + ".." +
                                                    std::to_string(mazes.back().level_seed);
  f.title = "Procgen mazes, " + seeds;
  f.notes = {distribution + " distribution (" + std::to_string(world) + " x " + std::to_string(world) +
             " world), cheese placement " + placement + "; the mouse at its start"};
  f.columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(mazes.size()))));
  for (const auto& m : mazes) {
    FigurePanel p{tile, tile, std::vector<float>(3 * static_cast<size_t>(tile) * tile),
                  "seed " + std::to_string(m.level_seed) + ", " + std::to_string(m.maze_dim) + " x " +
                      std::to_string(m.maze_dim)};
    raster.draw(m, maze::MouseState{m.start, false}, p.chw.data());
    f.panels.push_back(std::move(p));
  }
  write_figure(path, f);
}

// A comma-separated list of integers, each in [lo, hi]; InputError naming the flag otherwise.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag, int64_t lo, int64_t hi,
                                    const std::string& what) {
  std::vector<int64_t> values;
  for (const std::string& item : split(text, ',')) {
    const auto v = parse_integer(item);
    if (!v || *v < lo || *v > hi)
      throw InputError(flag + " " + text + ": '" + item + "' is not " + what + " (expected " + std::to_string(lo) +
                       ".." + std::to_string(hi) + ")");
    values.push_back(*v);
  }
  return values;
}

std::string frame_name(int64_t seed, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "seed%04lld_step%02lld.png", static_cast<long long>(seed),
                static_cast<long long>(step));
  return name;
}

int maze_frames(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab maze frames --seed S --actions A1,A2,... --at K1,K2,... --out DIR [SPEC] [--set k=v ...]\n"
      "Steps the maze of the spec (defaults and --set) on level seed S alone (env.num_levels = 1,\n"
      "env.start_level = S) through the actions and writes the observation after K of them (K = 0: at\n"
      "reset) as DIR/seedSSSS_stepKK.png: exactly what the network sees, pixel / 255 back to bytes.\n"
      "procgen_rgb and rgb are 64 x 64 pictures; grid is a W x W picture of its three planes (red =\n"
      "wall, green = cheese, blue = mouse, row 0 = the top). As in Procgen, reaching the cheese (or the\n"
      "time limit) starts the level again: that step's frame is the new episode's first.\n"
      "Flags");
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  flags.add_options()("help,h", "show this help")("seed", po::value<int64_t>(), "level seed S (0 <= S < 2^31 - 1, Procgen's level seeds)")(
      "distribution", po::value<std::string>(), "easy (15x15 world) or hard (25x25); default: the spec's (hard)")(
      "actions", po::value<std::string>(), "the actions, comma-separated (Procgen's 0..14: 1 left, 3 down, 5 up, 7 right)")(
      "at", po::value<std::string>(), "the steps whose observation is written, comma-separated (0 .. number of actions)")(
      "out", po::value<std::string>(), "folder for the PNG files (made if missing)")(
      "force", "overwrite existing frame files");
  const auto vm = parse_flags("maze frames", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  for (const char* required : {"seed", "actions", "at", "out"})
    if (!vm.count(required))
      throw InputError(std::string("shardlab maze frames: --") + required + " is required (see --help)");
  const int64_t seed = vm["seed"].as<int64_t>();
  if (seed < 0 || seed > 0x7ffffffe)
    throw InputError("--seed " + std::to_string(seed) + ": expected 0 <= S < 2^31 - 1 (Procgen's level seeds)");

  Spec spec = load_spec(vm);
  if (spec.get_string("env.name") != "maze")
    throw InputError("shardlab maze frames: env.name is '" + spec.get_string("env.name") + "', expected maze");
  if (vm.count("distribution")) spec.set("env.distribution", vm["distribution"].as<std::string>(), "--distribution");
  spec.set("env.num_levels", "1", "--seed");
  spec.set("env.start_level", std::to_string(seed), "--seed");
  spec.set("env.min_maze_size", "0", "--seed");
  spec.set("env.max_maze_size", "0", "--seed");
  const maze::MazeConfig config = maze::MazeConfig::from_spec(spec);
  maze::MazeEnv env(config, static_cast<uint64_t>(spec.get_int("run.seed")));

  const int64_t num_actions = env.action_spec().num_actions;
  const std::vector<int64_t> actions =
      parse_int_list(vm["actions"].as<std::string>(), "--actions", 0, num_actions - 1, "an action");
  const std::vector<int64_t> at =
      parse_int_list(vm["at"].as<std::string>(), "--at", 0, static_cast<int64_t>(actions.size()),
                     "a step of these " + std::to_string(actions.size()) + " actions");
  const std::set<int64_t> wanted(at.begin(), at.end());
  if (wanted.size() != at.size()) throw InputError("--at " + vm["at"].as<std::string>() + ": a step is listed twice");

  const std::string out = vm["out"].as<std::string>();
  std::vector<std::string> paths;
  for (int64_t k : wanted) paths.push_back((std::filesystem::path(out) / frame_name(seed, k)).string());
  claim_outputs(paths, vm.count("force") > 0);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) throw FileError("cannot create " + out + ": " + ec.message());

  const std::vector<int64_t> shape = env.observation_spec().shape;
  const int height = static_cast<int>(shape[1]), width = static_cast<int>(shape[2]);
  std::vector<float> observation(3 * static_cast<size_t>(height) * width);
  auto path = paths.begin();
  env.reset();
  for (int64_t k = 0; k <= static_cast<int64_t>(actions.size()); ++k) {
    if (k > 0) {
      const StepResult r = env.step(Action{actions[k - 1]});
      if (r.terminated || r.truncated) env.reset();  // num_levels = 1: the same level again
    }
    if (!wanted.count(k)) continue;
    env.write_observation(observation.data());
    write_png(*path++, observation.data(), height, width);
  }
  std::cout << "wrote " << paths.size() << " frame" << (paths.size() == 1 ? "" : "s") << " of " << width << " x "
            << height << " to " << out << " (maze level " << seed << ", " << spec.get_string("env.distribution")
            << ", " << spec.get_string("env.observation") << ")\n";
  return 0;
}

}  // namespace

int cmd_maze(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "frames") return maze_frames({args.begin() + 1, args.end()});
  po::options_description flags("shardlab maze show [--seed S | --seeds A:B] [flags]");
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "show")(
      "seed", po::value<int64_t>(), "level seed S")("seeds", po::value<std::string>(), "level seeds A:B (A .. B-1)")(
      "distribution", po::value<std::string>()->default_value("hard"), "easy (15x15 world) or hard (25x25)")(
      "placement", po::value<std::string>()->default_value("uniform"),
      "cheese placement: uniform | top_right_region:N | top_right_region:N,M,... (a mix) | corner")("svg", po::value<std::string>(),
                                                                 "also draw the mazes, captioned, into this SVG file")(
      "force", "overwrite an existing --svg file");
  po::positional_options_description positional;
  positional.add("action", 1);
  const auto vm = parse_flags("maze", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("action") || vm["action"].as<std::string>() != "show")
    throw InputError("shardlab maze: expected `maze show` or `maze frames` (see `shardlab maze show --help`)");
  if (vm.count("seed") == vm.count("seeds"))
    throw InputError("shardlab maze show: give exactly one of --seed S or --seeds A:B");
  std::pair<int64_t, int64_t> range;
  if (vm.count("seed")) {
    const int64_t s = vm["seed"].as<int64_t>();
    if (s < 0 || s > 0x7fffffff) throw InputError("--seed " + std::to_string(s) + ": expected 0 <= S < 2^31");
    range = {s, s + 1};
  } else {
    range = parse_range(vm["seeds"].as<std::string>(), "--seeds");
    if (range.second > 0x80000000LL) throw InputError("--seeds: level seeds must be below 2^31");
  }
  const int world = maze::world_size_of(vm["distribution"].as<std::string>());
  const maze::Placement placement = maze::Placement::parse(vm["placement"].as<std::string>());

  const std::string svg = vm.count("svg") ? vm["svg"].as<std::string>() : "";
  if (!svg.empty()) {
    check_svg_path(svg, "--svg");
    if (range.second - range.first > kMaxDrawnMazes)
      throw InputError("--svg: at most " + std::to_string(kMaxDrawnMazes) + " mazes in one picture, got " +
                       std::to_string(range.second - range.first));
    claim_outputs({svg}, vm.count("force") > 0);
  }

  std::vector<maze::MazeLayout> mazes;
  for (int64_t s = range.first; s < range.second; ++s) {
    mazes.push_back(maze::generate_maze(static_cast<uint32_t>(s), world, placement));
    std::cout << mazes.back().to_record(placement);
  }
  if (!svg.empty()) draw_mazes(mazes, vm["distribution"].as<std::string>(), vm["placement"].as<std::string>(), svg);
  return 0;
}

}  // namespace shardlab::cli
