#include "envs/maze/maze_paths.h"

#include <algorithm>
#include <deque>

namespace shardlab::maze {

std::vector<Cell> shortest_path(const MazeLayout& layout, Cell from, Cell to) {
  if (layout.is_wall(from) || layout.is_wall(to)) return {};
  const int w = layout.world_size;
  std::vector<int> parent(w * w, -1);
  auto index = [w](Cell c) { return c.y * w + c.x; };
  std::deque<Cell> frontier = {from};
  parent[index(from)] = index(from);
  static constexpr int kDx[4] = {-1, 0, 0, 1};
  static constexpr int kDy[4] = {0, -1, 1, 0};
  while (!frontier.empty() && parent[index(to)] < 0) {
    const Cell c = frontier.front();
    frontier.pop_front();
    for (int d = 0; d < 4; ++d) {
      const Cell n{c.x + kDx[d], c.y + kDy[d]};
      if (layout.is_wall(n) || parent[index(n)] >= 0) continue;
      parent[index(n)] = index(c);
      frontier.push_back(n);
    }
  }
  if (parent[index(to)] < 0) return {};
  std::vector<Cell> path;
  for (int at = index(to);; at = parent[at]) {
    path.push_back({at % w, at / w});
    if (at == index(from)) break;
  }
  std::reverse(path.begin(), path.end());
  return path;
}

std::vector<Cell> path_to_top_right(const MazeLayout& layout) {
  return shortest_path(layout, layout.start, layout.top_right());
}

std::optional<Cell> decision_square(const MazeLayout& layout) {
  if (!layout.has_cheese()) return std::nullopt;
  const auto to_cheese = shortest_path(layout, layout.start, layout.cheese);
  const auto to_corner = path_to_top_right(layout);
  if (to_cheese.empty() || to_corner.empty()) return std::nullopt;
  if (std::find(to_corner.begin(), to_corner.end(), layout.cheese) != to_corner.end()) return std::nullopt;
  size_t shared = 0;
  while (shared < to_cheese.size() && shared < to_corner.size() && to_cheese[shared] == to_corner[shared]) ++shared;
  return to_cheese[shared - 1];
}

bool offers_corner_or_cheese(const MazeLayout& layout) {
  const auto cell = decision_square(layout);
  return cell && !(*cell == layout.top_right());
}

bool in_top_right_region(const MazeLayout& l, Cell c, int n) {
  const int lo = l.margin() + std::max(0, l.maze_dim - n), hi = l.margin() + l.maze_dim;
  return c.x >= lo && c.x < hi && c.y >= lo && c.y < hi;
}

}  // namespace shardlab::maze
