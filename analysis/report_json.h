// How the studies' JSON summaries are written: one header first (summary_header), then keys in
// the order they are set, 6 significant digits, null for a number that is not finite.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace shardlab::analysis {

using Json = nlohmann::ordered_json;

// 6 significant digits; null if not finite (JSON has no NaN or infinity).
inline Json number(double v) {
  if (!std::isfinite(v)) return nullptr;
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return std::strtod(text, nullptr);
}

// Paths are bytes, not necessarily UTF-8: replace what is not instead of throwing.
inline std::string dump(const Json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// How many mazes a study used and why the others were left out; every study's summary carries it
// as "maze_counts" (the published sets use every maze size, ours may not). The counts add up:
// used = seeds - outside_sizes - every count in other_left_out.
struct MazeCounts {
  int64_t seeds = 0;          // level seeds asked for
  int64_t outside_sizes = 0;  // left out: outside the run's env.min_maze_size..env.max_maze_size
  int64_t min_maze_size = 0, max_maze_size = 0;
  int64_t used = 0;  // mazes the study's numbers come from
  // Why the study left other mazes out, only the reasons it applies, e.g.
  // {"without_decision_square", 31} for a study that needs one, {"cheese_in_top_right_5x5", 120}.
  std::vector<std::pair<std::string, int64_t>> other_left_out;
};

// Counts that do not add up are a bug in the study, not bad input: std::logic_error.
inline Json maze_counts_json(const MazeCounts& c) {
  Json j;
  j["seeds"] = c.seeds;
  j["outside_maze_sizes"] = c.outside_sizes;
  j["min_maze_size"] = c.min_maze_size;
  j["max_maze_size"] = c.max_maze_size;
  int64_t rest = c.seeds - c.outside_sizes;
  for (const auto& [why, count] : c.other_left_out) {
    j[why] = count;
    rest -= count;
  }
  j["used"] = c.used;
  if (rest != c.used)
    throw std::logic_error("maze_counts do not add up: " + j.dump() + " leaves " + std::to_string(rest) +
                           " mazes, not 'used'");
  return j;
}

// The header every study's summary JSON starts with, written here once: the study's name, the
// checkpoint and the SHA-256 of its bytes, the seeds as given, the protocol ("reference": the
// published one; "ours": shardlab's own design), the maze counts and the shardlab version. An empty
// `checkpoint` (a study over many) leaves it out. FileError if the checkpoint cannot be read;
// std::logic_error if the counts do not add up.
Json summary_header(const std::string& study, const std::string& checkpoint, const std::string& seeds,
                    const std::string& protocol, const MazeCounts& counts);

}  // namespace shardlab::analysis
