#include "core/process_pool.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/progress.h"

extern char** environ;

namespace shardlab {
namespace {

pid_t spawn(const ProcessJob& job) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, job.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  for (const std::string& a : job.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw Error("cannot start " + job.argv[0] + ": " + std::strerror(error));
  return pid;
}

}  // namespace

void run_process_pool(const std::vector<ProcessJob>& queue, int parallel, const std::string& what,
                      const std::function<std::string(size_t, bool)>& note) {
  if (parallel < 1) throw Error(what + ": a process pool needs at least one slot");
  for (size_t i = 0; i < queue.size(); ++i)
    if (queue[i].argv.empty() || queue[i].after >= static_cast<int>(i) || queue[i].after < -1)
      throw Error(what + ": job " + queue[i].name + " has no command or waits for a later job");
  enum class State { kWaiting, kRunning, kDone, kFailed };
  std::vector<State> state(queue.size(), State::kWaiting);
  std::map<pid_t, size_t> running;
  std::vector<std::string> failed;
  size_t ended = 0;
  Progress progress(what);
  std::string last;  // the note of the job that ended last
  auto status_line = [&] {
    std::string line = failed.empty() ? std::string() : std::to_string(failed.size()) + " failed";
    return last.empty() ? line : line.empty() ? last : line + ", " + last;
  };
  while (ended < queue.size()) {
    for (size_t i = 0; i < queue.size() && static_cast<int>(running.size()) < parallel; ++i) {
      if (state[i] != State::kWaiting) continue;
      const int after = queue[i].after;
      if (after >= 0 && state[after] == State::kFailed) {
        state[i] = State::kFailed;
        failed.push_back(queue[i].name + " (skipped: " + queue[after].name + " failed)");
        ++ended;
        continue;
      }
      if (after >= 0 && state[after] != State::kDone) continue;
      running[spawn(queue[i])] = i;
      state[i] = State::kRunning;
    }
    if (running.empty()) continue;  // everything left was skipped
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) throw Error(std::string("waitpid: ") + std::strerror(errno));
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    state[i] = ok ? State::kDone : State::kFailed;
    if (!ok) failed.push_back(queue[i].name + " (see " + queue[i].log + ")");
    running.erase(it);
    ++ended;
    if (note) last = note(i, ok);
    if (ended < queue.size())  // finish() draws the last one
      progress.update(static_cast<int64_t>(ended), static_cast<int64_t>(queue.size()), status_line(), /*force=*/true);
  }
  progress.finish(static_cast<int64_t>(ended), static_cast<int64_t>(queue.size()), status_line());
  if (!failed.empty())
    throw Error(what + ": " + std::to_string(failed.size()) + " of " + std::to_string(queue.size()) +
                " failed, first " + failed.front());
}

}  // namespace shardlab
