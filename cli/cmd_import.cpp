// `shardlab import procgen-tools FILE.pth --out RUN_DIR`: a network trained elsewhere as a shardlab
// run folder (agents/procgen_import.h does the reading, checking and writing).
#include <chrono>
#include <iostream>

#include "agents/procgen_import.h"
#include "cli/cli.h"
#include "core/error.h"
#include "core/text.h"
#include "experiments/schema.h"

namespace shardlab::cli {

int cmd_import(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab import procgen-tools FILE.pth --out RUN_DIR [--set k=v ...] [--force]\n"
      "  A maze network saved by procgen-tools ({'model_state_dict': ...}), by train-procgen-pytorch\n"
      "  ({'state_dict': ...}) or as a bare state dict, with torch.save (torch >= 1.6), e.g. the published\n"
      "  maze_I/model_rand_region_5.pth. The widths are read from the file; every tensor name and shape is\n"
      "  checked. RUN_DIR gets spec.ini (maze, hard world, env.observation = procgen_rgb, Procgen's 15 actions,\n"
      "  the widths, env.placement = uniform), run.json (the source file's path and SHA-256) and\n"
      "  checkpoints/update_0000000.pt, which eval, render and analyze read as any run. --set adds spec keys\n"
      "  (e.g. env.procgen_assets=DIR). Nothing is written unless the file passes every check");
  flags.add_options()("help,h", "show this help")("format", po::value<std::string>(), "procgen-tools")(
      "file", po::value<std::string>(), "the .pth file")("out", po::value<std::string>(), "the run folder to write")(
      "set", po::value<std::vector<std::string>>()->composing(), "a spec key of the run: --set env.procgen_assets=DIR")(
      "force", "replace an earlier import at RUN_DIR (any other existing folder is refused)");
  po::positional_options_description positional;
  positional.add("format", 1).add("file", 1);
  const auto vm = parse_flags("import", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("format") || vm["format"].as<std::string>() != "procgen-tools")
    throw InputError("shardlab import: expected `import procgen-tools FILE.pth --out RUN_DIR` (the one format read)");
  if (!vm.count("file")) throw InputError("shardlab import procgen-tools: expected FILE.pth");
  if (!vm.count("out")) throw InputError("shardlab import procgen-tools: --out RUN_DIR is required");
  ProcgenImportOptions options;
  options.out = vm["out"].as<std::string>();
  options.force = vm.count("force") > 0;
  if (vm.count("set")) options.overrides = vm["set"].as<std::vector<std::string>>();
  const auto start = std::chrono::steady_clock::now();
  const ProcgenImportResult r = import_procgen_tools(vm["file"].as<std::string>(), options, shardlab_schema());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "imported " << r.parameters << " parameters (" << r.form << ", widths " << join(r.channels) << ", hidden "
            << r.hidden << ", sha256 " << r.sha256.substr(0, 16) << "...) into " << r.checkpoint << " in " << seconds
            << " s\n";
  return 0;
}

}  // namespace shardlab::cli
