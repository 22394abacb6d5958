// The maze generator against Procgen's own layouts (shared/testdata/procgen_maze_layouts.txt).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "envs/maze/maze_generator.h"
#include "tests/test_util.h"

namespace shardlab::maze {
namespace {

struct Record {
  std::string header, text;
  uint32_t seed = 0;
  int world = 0;
  std::string placement;
};

std::vector<Record> load_records() {
  const std::string path = test::shared_dir() + "/testdata/procgen_maze_layouts.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<Record> records;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("seed ", 0) != 0) continue;
    Record r;
    r.header = line;
    std::istringstream h(line);
    std::string word;
    int maze_dim;
    h >> word >> r.seed >> word >> r.world >> word >> maze_dim >> word >> r.placement;
    r.text = line + "\n";
    for (int i = 0; i < r.world && std::getline(in, line); ++i) r.text += line + "\n";
    records.push_back(r);
  }
  return records;
}

Placement placement_of_record(const std::string& name) {
  if (name == "uniform") return Placement::parse("uniform");
  const int n = std::stoi(name.substr(std::string("top_right_region_").size()));
  return Placement::parse(n == 0 ? "corner" : "top_right_region:" + std::to_string(n));
}

TEST(MazeGenerator, ReproducesAllProcgenLayouts) {
  const auto records = load_records();
  ASSERT_EQ(records.size(), 1850u);
  int mismatches = 0;
  for (const auto& r : records) {
    const Placement p = placement_of_record(r.placement);
    const std::string got = generate_maze(r.seed, r.world, p).to_record(p);
    if (got != r.text && ++mismatches <= 3) ADD_FAILURE() << "expected\n" << r.text << "got\n" << got;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(MazeGenerator, PerfectMazeHasSpanningTreeCellCount) {
  for (uint32_t seed = 0; seed < 200; ++seed) {
    const MazeLayout m = generate_maze(seed, kHardWorld, Placement{});
    const int r = (m.maze_dim + 1) / 2;
    EXPECT_EQ(m.free_cell_count(), 2 * r * r - 1) << "seed " << seed;
    EXPECT_TRUE(m.is_free(m.top_right()));
    EXPECT_TRUE(m.is_free(m.start));
    EXPECT_NE(m.cheese, m.start);
    EXPECT_TRUE(m.is_free(m.cheese));
  }
}

TEST(MazeGenerator, TopRightRegionKeepsCheeseInRegion) {
  for (uint32_t seed = 0; seed < 300; ++seed) {
    const MazeLayout m = generate_maze(seed, kHardWorld, Placement::parse("top_right_region:5"));
    if (!m.has_cheese()) continue;
    const int n = std::min(5, m.maze_dim);
    EXPECT_GE(m.cheese.x - m.margin(), m.maze_dim - n);
    EXPECT_GE(m.cheese.y - m.margin(), m.maze_dim - n);
  }
}

TEST(MazeGenerator, PlacementParsing) {
  EXPECT_EQ(Placement::parse("top_right_region:5").regions, std::vector<int>{5});
  EXPECT_EQ(Placement::parse("corner").record_name(), "top_right_region_0");
  EXPECT_EQ(Placement::parse("top_right_region:3").to_string(), "top_right_region:3");
  EXPECT_EQ(Placement::parse("top_right_region:2,3").regions, (std::vector<int>{2, 3}));
  EXPECT_EQ(Placement::parse("top_right_region:2,3").to_string(), "top_right_region:2,3");
  EXPECT_EQ(Placement::parse("top_right_region:2*3,3").regions, (std::vector<int>{2, 2, 2, 3}));
  EXPECT_EQ(Placement::parse("top_right_region:2,2,2,3").to_string(), "top_right_region:2*3,3");
  for (const char* bad : {"", "top_right_region:", "top_right_region:0", "top_right_region:x", "top_right", "Uniform",
                          "top_right_region:2,", "top_right_region:,2", "top_right_region:2,,3", "top_right_region:2,0",
                          "top_right_region:2*0,3", "top_right_region:2*,3", "top_right_region:*2", "top_right_region:2*x"})
    EXPECT_THROW(Placement::parse(bad), InputError) << bad;
  EXPECT_THROW(world_size_of("medium"), InputError);
}

// A mix of region sizes: each level uses one size, fixed by its seed, about half the levels each,
// and its cheese lies in that size's region, exactly where the single-size placement puts it.
TEST(MazeGenerator, MixedRegionsGiveEachLevelOneOfTheSizes) {
  const Placement mix = Placement::parse("top_right_region:2,3");
  std::map<int, int> levels_of_size;
  for (uint32_t seed = 0; seed < 400; ++seed) {
    const Placement own = mix.of_level(seed);
    ASSERT_EQ(own.regions.size(), 1u);
    EXPECT_EQ(own.regions, mix.of_level(seed).regions);
    ++levels_of_size[own.regions.front()];
    const MazeLayout m = generate_maze(seed, kEasyWorld, mix);
    EXPECT_EQ(m.cheese, generate_maze(seed, kEasyWorld, own).cheese) << seed;
    EXPECT_EQ(m.to_record(mix), m.to_record(own)) << seed;  // names the level's own region size
    if (!m.has_cheese()) continue;
    const int n = std::min(own.regions.front(), m.maze_dim);
    EXPECT_GE(m.cheese.x - m.margin(), m.maze_dim - n) << seed;
    EXPECT_GE(m.cheese.y - m.margin(), m.maze_dim - n) << seed;
  }
  EXPECT_EQ(levels_of_size.size(), 2u);
  EXPECT_GT(levels_of_size[2], 150);  // of 400: an equal share, not a bias toward one size
  EXPECT_GT(levels_of_size[3], 150);
}

TEST(MazeGenerator, LayoutFromRowsRoundTrips) {
  const Placement p;
  const MazeLayout m = generate_maze(7, kHardWorld, p);
  std::istringstream text(m.to_record(p));
  std::string header, row;
  std::getline(text, header);
  std::vector<std::string> rows;
  while (std::getline(text, row)) rows.push_back(row);
  const MazeLayout back = layout_from_rows(rows, 7);
  EXPECT_EQ(back.walls, m.walls);
  EXPECT_EQ(back.cheese, m.cheese);
  EXPECT_EQ(back.start, m.start);
  EXPECT_EQ(back.maze_dim, m.maze_dim);
  EXPECT_EQ(back.to_record(p), m.to_record(p));
}

TEST(MazeGenerator, LayoutFromRowsRejectsMalformedGrids) {
  EXPECT_THROW(layout_from_rows({"###", "#.#"}), InputError);                 // not square
  EXPECT_THROW(layout_from_rows({"###", "#x#", "###"}), InputError);          // unknown character
  EXPECT_THROW(layout_from_rows({"###", "###", "###"}), InputError);          // no free cell
  EXPECT_THROW(layout_from_rows({"#####", "#C.C#", "#...#", "#M..#", "#####"}), InputError);  // two cheeses
}

}  // namespace
}  // namespace shardlab::maze
