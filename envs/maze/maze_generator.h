// Procgen's maze level generator (procgen 0.10.7 `maze`, procgenAISC `maze_aisc`), bit-exact:
// the same level seed gives the same layout and cheese cell as Procgen itself.
// See ../shared/reference/maze.md for the rules this file follows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardlab::maze {

// Where the cheese goes.
struct Placement {
  enum class Kind { kUniform, kTopRightRegion, kCorner };
  Kind kind = Kind::kUniform;
  // N of top_right_region:N (N >= 1). Several sizes, top_right_region:N,M,...: a mix, where each
  // level uses one of them, an equal share of level seeds each (by a hash of the level seed, so a
  // level always has the same layout); N*K stands for K shares of N ("2*7,3": one level in 8 has
  // a 3x3 region). Not Procgen's: procgenAISC has one region size.
  std::vector<int> regions;

  // Parses "uniform", "top_right_region:N[,M...]" (N >= 1) or "corner"; throws InputError otherwise.
  static Placement parse(const std::string& text);
  // The spec spelling: "uniform", "top_right_region:5", "top_right_region:2*7,3", "corner".
  std::string to_string() const;
  // The single-size placement the level of this seed uses: itself unless a mix of region sizes.
  Placement of_level(uint32_t level_seed) const;
  // The spelling of Procgen's layout records: "uniform", "top_right_region_5",
  // "top_right_region_0" for the corner. For one size; a record of a mix names the level's own
  // size (MazeLayout::to_record).
  std::string record_name() const;
};

// World sizes of Procgen's distributions.
constexpr int kEasyWorld = 15;
constexpr int kHardWorld = 25;

// Parses "easy" / "hard" into a world size; throws InputError otherwise.
int world_size_of(const std::string& distribution);

// A cell of the world: x to the right, y UP, (0, 0) the bottom-left world cell.
struct Cell {
  int x = -1;
  int y = -1;
  bool operator==(const Cell& o) const { return x == o.x && y == o.y; }
  bool operator!=(const Cell& o) const { return !(*this == o); }
  bool valid() const { return x >= 0; }
};

// Procgen's maze picks its background from this many images (topdown_backgrounds).
constexpr int kNumBackgrounds = 9;

// One level: the world's walls, the mouse's start and the cheese.
struct MazeLayout {
  uint32_t level_seed = 0;
  int world_size = kHardWorld;
  int maze_dim = 3;
  // The level's first two random draws: which background Procgen draws behind the maze (index
  // into floortiles, backgrounddetailed1..8) and its horizontal offset in [0, 1). Only the
  // procgen_rgb observation uses them; layouts built from rows keep 0 and 0.
  int background_index = 0;
  float background_offset = 0.0f;
  std::vector<uint8_t> walls;  // world_size^2, index y * world_size + x, 1 = wall
  Cell start;                  // the mouse's start cell (the maze's bottom-left)
  Cell cheese;                 // invalid (-1, -1) when the level has no cheese

  int margin() const { return (world_size - maze_dim) / 2; }
  bool has_cheese() const { return cheese.valid(); }
  bool in_world(Cell c) const { return c.x >= 0 && c.y >= 0 && c.x < world_size && c.y < world_size; }
  // Outside the world counts as wall.
  bool is_wall(Cell c) const { return !in_world(c) || walls[c.y * world_size + c.x] != 0; }
  bool is_free(Cell c) const { return !is_wall(c); }
  // The top-right cell of the maze (always free).
  Cell top_right() const { return {margin() + maze_dim - 1, margin() + maze_dim - 1}; }
  int free_cell_count() const;

  // Procgen's layout record: "seed S world W maze_dim D placement P cheese X Y" and W rows of
  // '#', '.', 'C', 'M', the top row first (the format of testdata/procgen_maze_layouts.txt).
  std::string to_record(const Placement& placement) const;
};

// Generates the level Procgen generates for this level seed, world size (15 or 25) and placement.
MazeLayout generate_maze(uint32_t level_seed, int world_size, const Placement& placement);

// The maze size of that level, without generating it (three draws of the level's generator).
int maze_dim_of(uint32_t level_seed, int world_size);

// Builds a layout from rows of '#', '.', 'C', 'M' (top row first, square). The mouse start is
// the 'M' cell (or the bottom-left free cell of the maze area if none). Throws InputError on a
// malformed grid. The maze size is taken to be the smallest odd centred square holding every
// free cell.
MazeLayout layout_from_rows(const std::vector<std::string>& rows, uint32_t level_seed = 0);

}  // namespace shardlab::maze
