// `shardlab inspect FILE.h5`: what an HDF5 file holds; for activation logs, per-channel
// statistics of a layer and heatmaps over the mazes.
#include <functional>
#include <iostream>
#include <optional>

#include "analysis/activation_log.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/isolated.h"
#include "media/figure.h"

namespace shardlab::cli {
namespace {

constexpr double kInspectTimeoutSeconds = 120;

// libhdf5 can crash or hang on files whose bytes were corrupted in the middle (seen when fuzzing
// 1.10.8), which no check before reading can rule out: the file is read in a child process.
std::string read_isolated(const std::string& path, const std::function<std::string()>& read) {
  return run_isolated(read, path + ": the HDF5 library crashed or hung reading it; the file is corrupt",
                      kInspectTimeoutSeconds);
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
