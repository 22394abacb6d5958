// `shardlab maze show`: Procgen's layouts in the record format of the reference data.
#include <cmath>
#include <iostream>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/figure.h"
#include "envs/maze/maze_generator.h"
#include "envs/maze/maze_render.h"

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

}  // namespace

int cmd_maze(const std::vector<std::string>& args) {
  po::options_description flags("shardlab maze show [--seed S | --seeds A:B] [flags]");
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "show")(
      "seed", po::value<int64_t>(), "level seed S")("seeds", po::value<std::string>(), "level seeds A:B (A .. B-1)")(
      "distribution", po::value<std::string>()->default_value("hard"), "easy (15x15 world) or hard (25x25)")(
      "placement", po::value<std::string>()->default_value("uniform"),
      "cheese placement: uniform | top_right_region:N | corner")("svg", po::value<std::string>(),
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
    throw InputError("shardlab maze: expected `maze show` (see `shardlab maze --help`)");
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
