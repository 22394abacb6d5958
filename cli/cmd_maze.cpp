// `shardlab maze show`: Procgen's layouts in the record format of the reference data.
#include <cmath>
#include <iostream>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/png.h"
#include "envs/maze/maze_generator.h"
#include "envs/maze/maze_render.h"

namespace shardlab::cli {
namespace {

constexpr int kMaxPngMazes = 400;

// Draws the mazes side by side in one picture, 8 pixels per cell (16 for a single maze).
void draw_mazes(const std::vector<maze::MazeLayout>& mazes, const std::string& path) {
  if (mazes.size() > kMaxPngMazes)
    throw InputError("--png: at most " + std::to_string(kMaxPngMazes) + " mazes in one picture, got " +
                     std::to_string(mazes.size()));
  const int world = mazes[0].world_size;
  const int cell_px = mazes.size() == 1 ? 16 : 8;
  const int tile = world * cell_px;
  const int gap = 4;
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(mazes.size()))));
  const int rows = (static_cast<int>(mazes.size()) + columns - 1) / columns;
  const int width = columns * tile + (columns - 1) * gap;
  const int height = rows * tile + (rows - 1) * gap;
  std::vector<float> image(3 * static_cast<size_t>(width) * height, 1.0f);
  std::vector<float> one(3 * static_cast<size_t>(tile) * tile);
  const maze::MazeRaster raster(world, tile);
  for (size_t i = 0; i < mazes.size(); ++i) {
    raster.draw(mazes[i], maze::MouseState{mazes[i].start, false}, one.data());
    const int ox = static_cast<int>(i % columns) * (tile + gap);
    const int oy = static_cast<int>(i / columns) * (tile + gap);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < tile; ++y)
        for (int x = 0; x < tile; ++x)
          image[(static_cast<size_t>(c) * height + oy + y) * width + ox + x] =
              one[(static_cast<size_t>(c) * tile + y) * tile + x];
  }
  write_png(path, image.data(), height, width);
}

}  // namespace

int cmd_maze(const std::vector<std::string>& args) {
  po::options_description flags("shardlab maze show [--seed S | --seeds A:B] [flags]");
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "show")(
      "seed", po::value<int64_t>(), "level seed S")("seeds", po::value<std::string>(), "level seeds A:B (A .. B-1)")(
      "distribution", po::value<std::string>()->default_value("hard"), "easy (15x15 world) or hard (25x25)")(
      "placement", po::value<std::string>()->default_value("uniform"),
      "cheese placement: uniform | top_right_region:N | corner")(
      "png", po::value<std::string>(), "also draw the mazes into this PNG file")("force",
                                                                                 "overwrite an existing --png file");
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

  std::vector<maze::MazeLayout> mazes;
  for (int64_t s = range.first; s < range.second; ++s) {
    mazes.push_back(maze::generate_maze(static_cast<uint32_t>(s), world, placement));
    std::cout << mazes.back().to_record(placement);
  }
  if (vm.count("png")) {
    claim_outputs({vm["png"].as<std::string>()}, vm.count("force") > 0);
    draw_mazes(mazes, vm["png"].as<std::string>());
  }
  return 0;
}

}  // namespace shardlab::cli
