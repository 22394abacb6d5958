// The hand-drawn mazes the protocol tests share (tests/test_protocols.cpp and
// tests/test_protocol_retarget.cpp).
#pragma once

#include <string>
#include <vector>

#include "envs/maze/maze_generator.h"

namespace shardlab::test {

// A 7x7 tree maze, margin 0 (world 7), y up, start (0, 0), corner (6, 6), cheese (1, 2):
//   y=6  . . . . . . .
//   y=5  . # # # # # .
//   y=4  . # . . . # .
//   y=3  . # . # . # .
//   y=2  . C . # . # .
//   y=1  . # # # # # .
//   y=0  M . . . . . #
// To the corner: up the left column, right along the top (12 moves); to the cheese: up 2, right 1.
// They part after (0, 2): the decision square.
inline std::vector<std::string> hand_maze_rows() {
  return {
      ".......", ".#####.", ".#...#.", ".#.#.#.", ".C.#.#.", ".#####.", "M.....#",
  };
}
inline maze::MazeLayout hand_maze() { return maze::layout_from_rows(hand_maze_rows()); }

// A hand-drawn 7x7 maze (rows top first) centred in the 15x15 easy world (margin 4).
inline maze::MazeLayout in_easy_world(const std::vector<std::string>& maze) {
  std::vector<std::string> rows(4, std::string(15, '#'));
  for (const auto& r : maze) rows.push_back("####" + r + "####");
  while (rows.size() < 15) rows.push_back(std::string(15, '#'));
  return maze::layout_from_rows(rows);
}

}  // namespace shardlab::test
