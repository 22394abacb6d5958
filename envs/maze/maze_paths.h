// Paths in a maze: shortest paths, the path to the top-right corner, and the decision square
// (the vocabulary of ../shared/reference/studies.md).
#pragma once

#include <optional>
#include <vector>

#include "envs/maze/maze_generator.h"

namespace shardlab::maze {

// The shortest path from `from` to `to` through free cells, both ends included; empty when
// `to` cannot be reached. Breadth-first search, neighbours tried left, down, up, right.
std::vector<Cell> shortest_path(const MazeLayout& layout, Cell from, Cell to);

// The shortest path from the mouse's start to the maze's top-right cell.
std::vector<Cell> path_to_top_right(const MazeLayout& layout);

// The last cell shared by the shortest paths from the start to the cheese and to the top-right
// corner. None when the maze has no cheese or the cheese lies on the path to the corner.
std::optional<Cell> decision_square(const MazeLayout& layout);

// Whether the mouse must choose between the cheese and the top-right corner: the maze has a
// decision square and it is not the corner itself (the corner on the way to the cheese).
bool offers_corner_or_cheese(const MazeLayout& layout);

// Whether world cell `c` lies in the maze's top-right n x n cells (clipped to the maze).
bool in_top_right_region(const MazeLayout& layout, Cell c, int n);

}  // namespace shardlab::maze
