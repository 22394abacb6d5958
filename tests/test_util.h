// Helpers shared by the tests: paths, temporary folders, running the CLI.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

namespace shardlab::analysis {
class MazePolicy;
}

namespace shardlab::test {

// The maze smoke spec the end-to-end tests train.
inline const std::string kSmoke = std::string(SHARDLAB_SOURCE_DIR) + "/experiments/ppo_maze_smoke.ini";
// The residual block whose output the studies read and edit in the tests.
inline const std::string kLayer = "embedder.block2.res1.resadd_out";

// The shared/ folder: $SHARDLAB_SHARED_DIR if set, else the build's default (../shared).
inline std::string shared_dir() {
  const char* env = std::getenv("SHARDLAB_SHARED_DIR");
  return env ? env : SHARDLAB_SHARED_DIR;
}

// A fresh empty folder under the system's temporary directory.
std::string make_temp_dir();

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the shardlab CLI binary with `args` (a shell-quoted string), capturing both streams.
CommandResult run_cli(const std::string& args);
// Runs any shell command, capturing both streams.
CommandResult run_shell(const std::string& command);

// Expects bad input's one error line: exit code 2 and stderr exactly one line
// "shardlab: error: ..." that contains `needle` (with `after_progress`, progress lines of a long
// command may come before it).
void expect_one_line_error(const CommandResult& r, const std::string& needle, bool after_progress = false);

std::string read_file(const std::string& path);
// Writes `text` as the whole file `path` (binary), for the tests' own inputs.
void write_file(const std::string& path, const std::string& text);
// The rows of a CSV file split at commas (no quoting); a trailing comma gives an empty last cell.
std::vector<std::vector<std::string>> read_csv(const std::string& path);

// Procgen's maze sprites in shared/testdata.
inline std::string procgen_assets_dir() { return shared_dir() + "/testdata/procgen_assets"; }

// A metrics.csv's rows without its wall-clock columns (time*, charts/SPS).
std::vector<std::vector<std::string>> without_clock(std::vector<std::vector<std::string>> rows);

// An untrained (randomly initialised) small maze policy (easy 15x15 mazes, 4/8/8 channels) saved
// as DIR/policy.pt: enough for the studies' arithmetic, flags and outputs, which do not depend on
// training. `actions`: env.actions (procgen: 15 actions, compact: 5).
std::string untrained_maze_policy(const std::string& dir, const std::string& actions = "procgen");
// A saved maze policy loaded for the studies, its mazes' cheese placed uniformly.
analysis::MazePolicy load_uniform_cheese_policy(const std::string& path);

}  // namespace shardlab::test
