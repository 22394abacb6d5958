// Helpers shared by the tests: paths, temporary folders, running the CLI.
#pragma once

#include <cstdlib>
#include <string>

namespace shardlab::test {

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

std::string read_file(const std::string& path);

}  // namespace shardlab::test
