#include "tests/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "agents/checkpoint.h"
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

CommandResult run_cli(const std::string& args) { return run_shell(std::string(SHARDLAB_CLI) + " " + args); }

}  // namespace shardlab::test
