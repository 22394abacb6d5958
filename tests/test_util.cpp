#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "agents/checkpoint.h"
#include "analysis/maze_policy.h"
#include "core/spec.h"
#include "experiments/schema.h"

namespace shardlab::test {

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/shardlab_test_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!mkdtemp(buffer.data())) throw std::runtime_error("mkdtemp failed");
  return buffer.data();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string cell;
    while (std::getline(s, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

CommandResult run_shell(const std::string& command) {
  const std::string dir = make_temp_dir();
  const std::string out = dir + "/out", err = dir + "/err";
  const int status = std::system((command + " >" + out + " 2>" + err + " </dev/null").c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  std::system(("rm -rf " + dir).c_str());
  return r;
}

std::string untrained_maze_policy(const std::string& dir, const std::string& actions) {
  const Spec spec = Spec::load(
      shardlab_schema(), "",
      {"agent.channels=4,8,8", "agent.hidden=32", "env.distribution=easy", "env.actions=" + actions, "run.threads=1"});
  ObservationSpec obs;
  obs.shape = {3, 15, 15};
  ActionSpec act;
  act.num_actions = actions == "procgen" ? 15 : 5;
  at::Generator init = at::detail::createCPUGenerator(3);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  const std::string path = dir + "/policy.pt";
  save_policy(path, *net, spec);
  return path;
}

std::vector<std::vector<std::string>> without_clock(std::vector<std::vector<std::string>> rows) {
  const auto& header = rows.at(0);
  std::vector<size_t> drop;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i].rfind("time", 0) == 0 || header[i] == "charts/SPS") drop.push_back(i);
  for (auto& row : rows)
    for (auto it = drop.rbegin(); it != drop.rend(); ++it)
      if (*it < row.size()) row.erase(row.begin() + static_cast<long>(*it));
  return rows;
}

analysis::MazePolicy load_uniform_cheese_policy(const std::string& path) {
  return analysis::MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"});
}

CommandResult run_cli(const std::string& args) { return run_shell(std::string(SHARDLAB_CLI) + " " + args); }

void expect_one_line_error(const CommandResult& r, const std::string& needle, bool after_progress) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const size_t at = r.err.find("shardlab: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  if (!after_progress) {
    EXPECT_EQ(at, 0u) << r.err;
  }
  const std::string error = r.err.substr(at);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << r.err;
  EXPECT_NE(error.find(needle), std::string::npos) << r.err;
}

}  // namespace shardlab::test
