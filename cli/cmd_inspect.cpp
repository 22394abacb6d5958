// `shardlab inspect FILE.h5`: what an HDF5 file holds.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"
#include "core/experience_file.h"

namespace shardlab::cli {
namespace {

constexpr int kInspectTimeoutSeconds = 120;

// libhdf5 can crash or hang on files whose bytes were corrupted in the middle (seen when fuzzing
// 1.10.8), which no check before reading can rule out. So the file is read in a child process:
// a crash or a hang becomes one clear error line instead of taking the command down.
std::string describe_isolated(const std::string& path) {
  int fds[2];
  if (pipe(fds) != 0) return describe_h5(path);
  const pid_t child = fork();
  if (child < 0) return describe_h5(path);
  if (child == 0) {
    close(fds[0]);
    std::string text;
    int code = 0;
    try {
      text = describe_h5(path);
    } catch (const std::exception& e) {
      text = e.what();
      code = 3;
    }
    for (size_t done = 0; done < text.size();) {
      const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    _exit(code);
  }
  close(fds[1]);
  std::string text;
  char buffer[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kInspectTimeoutSeconds);
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  if (timed_out) throw FileError(path + ": reading it did not finish in " + std::to_string(kInspectTimeoutSeconds) +
                                 " s (corrupt HDF5 file?)");
  if (WIFSIGNALED(status))
    throw FileError(path + ": the HDF5 library crashed reading it (signal " + std::to_string(WTERMSIG(status)) +
                    "); the file is corrupt");
  if (WEXITSTATUS(status) == 3) throw FileError(text);
  return text;
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& args) {
  po::options_description flags("shardlab inspect FILE.h5");
  flags.add_options()("help,h", "show this help")("file", po::value<std::string>(), "an HDF5 file");
  po::positional_options_description positional;
  positional.add("file", 1);
  const auto vm = parse_flags("inspect", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("file")) throw InputError("shardlab inspect: expected a file: shardlab inspect FILE.h5");
  std::cout << describe_isolated(vm["file"].as<std::string>());
  return 0;
}

}  // namespace shardlab::cli
