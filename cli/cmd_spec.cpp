// `shardlab spec keys` and `shardlab spec show`.
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"

namespace shardlab::cli {

int cmd_spec(const std::vector<std::string>& args) {
  po::options_description flags("shardlab spec keys | spec show [SPEC] [--set key=value ...]");
  flags.add_options()("help,h", "show this help")("action", po::value<std::string>(), "keys or show");
  po::options_description spec_flags;
  po::positional_options_description positional;
  positional.add("action", 1);
  add_spec_flags(spec_flags, positional);
  flags.add(spec_flags);
  const auto vm = parse_flags("spec", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  const std::string action = vm.count("action") ? vm["action"].as<std::string>() : "";
  if (action == "keys") {
    std::cout << shardlab_schema().describe();
    return 0;
  }
  if (action == "show") {
    std::cout << load_spec(vm).to_ini();
    return 0;
  }
  throw InputError("shardlab spec: expected `spec keys` or `spec show [SPEC]`");
}

}  // namespace shardlab::cli
