// `shardlab inspect FILE.h5`: what an HDF5 file holds; for activation logs, per-channel
// statistics of a layer and heatmaps over the mazes.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <optional>

#include "analysis/activation_log.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/figure.h"

namespace shardlab::cli {
namespace {

constexpr int kInspectTimeoutSeconds = 120;

// libhdf5 can crash or hang on files whose bytes were corrupted in the middle (seen when fuzzing
// 1.10.8), which no check before reading can rule out. So the file is read in a child process:
// a crash or a hang becomes one clear error line instead of taking the command down.
// Exit codes of the child: 3 for a FileError, 4 for an InputError (bad flag), 5 for anything else.
std::string read_isolated(const std::string& path, const std::function<std::string()>& read) {
  int fds[2];
  if (pipe(fds) != 0) return read();
  const pid_t child = fork();
  if (child < 0) return read();
  if (child == 0) {
    close(fds[0]);
    std::string text;
    int code = 0;
    try {
      text = read();
    } catch (const FileError& e) {
      text = e.what();
      code = 3;
    } catch (const InputError& e) {
      text = e.what();
      code = 4;
    } catch (const std::exception& e) {
      text = e.what();
      code = 5;
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
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  if (timed_out)
    throw FileError(path + ": reading it did not finish in " + std::to_string(kInspectTimeoutSeconds) +
                    " s (corrupt HDF5 file?)");
  if (WIFSIGNALED(status))
    throw FileError(path + ": the HDF5 library crashed reading it (signal " + std::to_string(WTERMSIG(status)) +
                    "); the file is corrupt");
  if (WEXITSTATUS(status) == 3) throw FileError(text);
  if (WEXITSTATUS(status) == 4) throw InputError(text);
  if (WEXITSTATUS(status) == 5) throw std::runtime_error(text);
  return text;
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& args) {
  po::options_description flags("shardlab inspect FILE.h5 [--layer L [--channel C] [--maze I] [--svg OUT.svg]]");
  flags.add_options()("help,h", "show this help")("file", po::value<std::string>(), "an HDF5 file")(
      "layer", po::value<std::string>(), "activation logs: per-channel statistics of this layer")(
      "channel", po::value<int64_t>(), "activation logs: only this channel (and its heatmap with --svg)")(
      "maze", po::value<int64_t>()->default_value(0), "activation logs: the row drawn by --svg")(
      "svg", po::value<std::string>(),
      "activation logs: an SVG figure of the channel (or all channels) over the maze, with a colour scale")(
      "force", "overwrite an existing --svg file");
  po::positional_options_description positional;
  positional.add("file", 1);
  const auto vm = parse_flags("inspect", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("file")) throw InputError("shardlab inspect: expected a file: shardlab inspect FILE.h5");
  const std::string path = vm["file"].as<std::string>();
  if (!vm.count("layer")) {
    for (const char* flag : {"channel", "svg"})
      if (vm.count(flag)) throw InputError(std::string("--") + flag + " needs --layer (activation logs)");
    std::cout << read_isolated(path, [&] { return describe_h5(path); });
    return 0;
  }
  const std::string layer = vm["layer"].as<std::string>();
  const std::optional<int64_t> channel =
      vm.count("channel") ? std::optional<int64_t>(flag_at_least(vm, "channel", 0)) : std::nullopt;
  const int64_t row = flag_at_least(vm, "maze", 0);
  const std::string svg = vm.count("svg") ? vm["svg"].as<std::string>() : "";
  if (!svg.empty()) {
    check_svg_path(svg, "--svg");
    claim_outputs({svg}, vm.count("force") > 0);
  }
  std::cout << read_isolated(
      path, [&] { return analysis::describe_layer(analysis::ActivationLog::open(path), layer, channel, row, svg); });
  return 0;
}

}  // namespace shardlab::cli
