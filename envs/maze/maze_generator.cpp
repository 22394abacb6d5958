#include "envs/maze/maze_generator.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace shardlab::maze {
namespace {

// Procgen's draws from its per-level std::mt19937.
class ProcgenRandom {
 public:
  explicit ProcgenRandom(uint32_t seed) : mt_(seed) {}
  int randn(int n) { return static_cast<int>(mt_() % static_cast<uint32_t>(n)); }
  float rand01() { return static_cast<float>(mt_() / 4294967296.0); }

 private:
  std::mt19937 mt_;
};

// Union-find over the rooms; the generator only asks "same set?", so the set
// representation does not change the layout.
class DisjointSets {
 public:
  explicit DisjointSets(int n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  int find(int a) {
    while (parent_[a] != a) a = parent_[a] = parent_[parent_[a]];
    return a;
  }
  void merge(int a, int b) { parent_[find(a)] = find(b); }

 private:
  std::vector<int> parent_;
};

struct Wall {
  int x1, y1, x2, y2;  // the two rooms it separates (maze coordinates)
};

// Kruskal's algorithm exactly as Procgen's MazeGen runs it. Returns maze-cell walls
// (maze_dim^2, index y * maze_dim + x) and the free cells in the order they were freed.
void kruskal(ProcgenRandom& rng, int maze_dim, std::vector<uint8_t>& maze_walls, std::vector<int>& free_cells) {
  maze_walls.assign(maze_dim * maze_dim, 1);
  free_cells.clear();
  DisjointSets sets(maze_dim * maze_dim);

  std::vector<Wall> walls;
  for (int x = 1; x < maze_dim - 1; x += 2)
    for (int y = 0; y < maze_dim; y += 2) walls.push_back({x - 1, y, x + 1, y});
  for (int x = 0; x < maze_dim; x += 2)
    for (int y = 1; y < maze_dim - 1; y += 2) walls.push_back({x, y - 1, x, y + 1});

  auto free_cell = [&](int x, int y) {
    const int index = y * maze_dim + x;
    if (maze_walls[index]) {
      maze_walls[index] = 0;
      free_cells.push_back(index);
    }
  };

  // A 1x1 maze has no walls to knock down: its single room is free.
  if (walls.empty()) free_cell(0, 0);

  while (!walls.empty()) {
    const int n = rng.randn(static_cast<int>(walls.size()));
    const Wall w = walls[n];
    const int mx = (w.x1 + w.x2) / 2;
    const int my = (w.y1 + w.y2) / 2;
    const int room1 = w.y1 * maze_dim + w.x1;
    const int room2 = w.y2 * maze_dim + w.x2;
    if (maze_walls[my * maze_dim + mx] && sets.find(room1) != sets.find(room2)) {
      free_cell(w.x1, w.y1);
      free_cell(mx, my);
      free_cell(w.x2, w.y2);
      sets.merge(room1, room2);
    }
    walls.erase(walls.begin() + n);  // order-preserving, as Procgen does
  }
}

// Draws 1-3 of a level reset: the background's horizontal offset and its index in the maze's
// list of 9 backgrounds (Procgen's game_reset), then the maze size.
int draw_maze_dim(ProcgenRandom& rng, int world_size, float* background_offset = nullptr,
                  int* background_index = nullptr) {
  const float offset = rng.rand01();
  const int index = rng.randn(kNumBackgrounds);
  if (background_offset) *background_offset = offset;
  if (background_index) *background_index = index;
  return rng.randn((world_size - 1) / 2) * 2 + 3;
}

// Returns the maze-cell index of the cheese, or -1 for none.
int place_cheese(ProcgenRandom& rng, int maze_dim, const std::vector<int>& free_cells, const Placement& placement) {
  const int n_free = static_cast<int>(free_cells.size());
  constexpr int kStart = 0;
  switch (placement.kind) {
    case Placement::Kind::kUniform: {
      int m;
      do {
        m = rng.randn(n_free);
      } while (free_cells[m] == kStart);
      return free_cells[m];
    }
    case Placement::Kind::kTopRightRegion: {
      const int region = std::min(placement.regions.front(), maze_dim);
      rng.randn(n_free);  // procgenAISC draws once and discards it
      for (int attempt = 0; attempt < maze_dim * 100; ++attempt) {
        const int cell = free_cells[rng.randn(n_free)];
        const int x = cell % maze_dim;
        const int y = cell / maze_dim;
        if (cell != kStart && x >= maze_dim - region && y >= maze_dim - region) return cell;
      }
      return -1;
    }
    case Placement::Kind::kCorner:
      return (maze_dim - 1) * maze_dim + (maze_dim - 1);
  }
  return -1;
}

}  // namespace

Placement Placement::parse(const std::string& text) {
  Placement p;
  if (text == "uniform") return p;
  if (text == "corner") {
    p.kind = Kind::kCorner;
    return p;
  }
  const std::string prefix = "top_right_region:";
  if (text.rfind(prefix, 0) == 0) {
    p.kind = Kind::kTopRightRegion;
    std::istringstream sizes(text.substr(prefix.size()));
    // Each item is a size N, or N*K for K equal shares of N.
    for (std::string item; std::getline(sizes, item, ',');) {
      const size_t star = item.find('*');
      const auto n = parse_integer(item.substr(0, star));
      const auto k = star == std::string::npos ? std::optional<int64_t>(1) : parse_integer(item.substr(star + 1));
      if (!n || *n < 1 || *n > 1000 || !k || *k < 1 || *k > 1000) {
        p.regions.clear();
        break;
      }
      p.regions.insert(p.regions.end(), static_cast<size_t>(*k), static_cast<int>(*n));
    }
    if (!p.regions.empty() && text.back() != ',') return p;
  }
  throw InputError("placement '" + text +
                   "': expected uniform, top_right_region:N (1 <= N <= 1000), top_right_region:N,M,... (a mix; N*K for K shares of N) or corner");
}

std::string Placement::to_string() const {
  switch (kind) {
    case Kind::kUniform:
      return "uniform";
    case Kind::kTopRightRegion: {
      std::string out = "top_right_region:";
      for (size_t i = 0; i < regions.size();) {
        size_t run = 1;
        while (i + run < regions.size() && regions[i + run] == regions[i]) ++run;
        out += (i ? "," : "") + std::to_string(regions[i]) + (run > 1 ? "*" + std::to_string(run) : "");
        i += run;
      }
      return out;
    }
    case Kind::kCorner:
      return "corner";
  }
  return "";
}

std::string Placement::record_name() const {
  switch (kind) {
    case Kind::kUniform:
      return "uniform";
    case Kind::kTopRightRegion:
      return "top_right_region_" + std::to_string(regions.front());
    case Kind::kCorner:
      return "top_right_region_0";
  }
  return "";
}

Placement Placement::of_level(uint32_t level_seed) const {
  if (regions.size() < 2) return *this;
  // splitmix64's finaliser: level seeds are consecutive integers, their hashes are not.
  uint64_t z = level_seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  Placement p = *this;
  p.regions = {regions[z % regions.size()]};
  return p;
}

int world_size_of(const std::string& distribution) {
  if (distribution == "easy") return kEasyWorld;
  if (distribution == "hard") return kHardWorld;
  throw InputError("distribution '" + distribution + "': expected easy or hard");
}

int MazeLayout::free_cell_count() const { return static_cast<int>(std::count(walls.begin(), walls.end(), uint8_t{0})); }

std::string MazeLayout::to_record(const Placement& placement) const {
  std::ostringstream out;
  out << "seed " << level_seed << " world " << world_size << " maze_dim " << maze_dim << " placement "
      << placement.of_level(level_seed).record_name() << " cheese " << cheese.x << ' ' << cheese.y << '\n';
  for (int y = world_size - 1; y >= 0; --y) {
    for (int x = 0; x < world_size; ++x) {
      const Cell c{x, y};
      out << (c == cheese ? 'C' : c == start ? 'M' : is_wall(c) ? '#' : '.');
    }
    out << '\n';
  }
  return out.str();
}

int maze_dim_of(uint32_t level_seed, int world_size) {
  ProcgenRandom rng(level_seed);
  return draw_maze_dim(rng, world_size);
}

MazeLayout generate_maze(uint32_t level_seed, int world_size, const Placement& placement) {
  if (world_size < 3 || world_size % 2 == 0)
    throw InputError("world size " + std::to_string(world_size) + ": expected an odd number >= 3");
  ProcgenRandom rng(level_seed);
  MazeLayout layout;
  layout.level_seed = level_seed;
  layout.world_size = world_size;
  layout.maze_dim = draw_maze_dim(rng, world_size, &layout.background_offset, &layout.background_index);

  std::vector<uint8_t> maze_walls;
  std::vector<int> free_cells;
  kruskal(rng, layout.maze_dim, maze_walls, free_cells);
  const int cheese_index = place_cheese(rng, layout.maze_dim, free_cells, placement.of_level(level_seed));

  const int margin = layout.margin();
  layout.walls.assign(world_size * world_size, 1);
  for (int y = 0; y < layout.maze_dim; ++y)
    for (int x = 0; x < layout.maze_dim; ++x)
      layout.walls[(margin + y) * world_size + margin + x] = maze_walls[y * layout.maze_dim + x];
  layout.start = {margin, margin};
  if (cheese_index >= 0)
    layout.cheese = {margin + cheese_index % layout.maze_dim, margin + cheese_index / layout.maze_dim};
  return layout;
}

MazeLayout layout_from_rows(const std::vector<std::string>& rows, uint32_t level_seed) {
  const int w = static_cast<int>(rows.size());
  if (w < 3) throw InputError("maze grid: expected at least 3 rows, got " + std::to_string(w));
  MazeLayout layout;
  layout.level_seed = level_seed;
  layout.world_size = w;
  layout.walls.assign(w * w, 1);
  int lo = w, hi = -1;
  for (int r = 0; r < w; ++r) {
    if (static_cast<int>(rows[r].size()) != w)
      throw InputError("maze grid row " + std::to_string(r + 1) + ": expected " + std::to_string(w) +
                       " characters, got " + std::to_string(rows[r].size()));
    const int y = w - 1 - r;
    for (int x = 0; x < w; ++x) {
      const char ch = rows[r][x];
      if (ch == '#') continue;
      if (ch != '.' && ch != 'C' && ch != 'M')
        throw InputError(std::string("maze grid row ") + std::to_string(r + 1) + ": unexpected character '" + ch +
                         "' (expected # . C M)");
      layout.walls[y * w + x] = 0;
      if (ch == 'C') {
        if (layout.cheese.valid()) throw InputError("maze grid: more than one cheese 'C'");
        layout.cheese = {x, y};
      }
      if (ch == 'M') {
        if (layout.start.valid()) throw InputError("maze grid: more than one mouse 'M'");
        layout.start = {x, y};
      }
      lo = std::min({lo, x, y});
      hi = std::max({hi, x, y});
    }
  }
  if (hi < 0) throw InputError("maze grid: no free cell");
  // The smallest odd square centred in the world that holds every free cell.
  const int half = std::max((w - 1) / 2 - lo, hi - (w - 1) / 2);
  layout.maze_dim = std::min(w, 2 * half + 1);
  if (layout.maze_dim % 2 == 0) layout.maze_dim -= 1;
  if (!layout.start.valid()) {
    const Cell corner{layout.margin(), layout.margin()};
    if (layout.is_wall(corner)) throw InputError("maze grid: no 'M' and the maze's bottom-left cell is a wall");
    layout.start = corner;
  }
  return layout;
}

}  // namespace shardlab::maze
