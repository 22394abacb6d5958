// `shardlab inspect FILE.h5`: what an HDF5 file holds.
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"
#include "core/experience_file.h"

namespace shardlab::cli {

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
  std::cout << describe_h5(vm["file"].as<std::string>());
  return 0;
}

}  // namespace shardlab::cli
