#include "cli/cli.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/error.h"
#include "core/text.h"

namespace shardlab::cli {

void add_spec_flags(po::options_description& flags, po::positional_options_description& positional) {
  flags.add_options()("spec", po::value<std::string>(), "experiment spec (INI); optional, defaults otherwise")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a spec key: --set env.num_envs=128")(
      "env", po::value<std::string>(), "shorthand for --set env.name=NAME");
  positional.add("spec", 1);
}

void add_set_from_flag(po::options_description& flags) {
  flags.add_options()("set-from", po::value<std::vector<std::string>>()->composing(),
                      "set a spec key to a file's one line of text: --set-from atac.beta=FILE (after --set)");
}

namespace {

// "KEY=VALUE" from "KEY=FILE" and FILE's one line.
std::string set_from_file(const std::string& flag) {
  const size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == flag.size())
    throw InputError("--set-from '" + flag + "': expected KEY=FILE");
  const std::string key = flag.substr(0, eq), file = flag.substr(eq + 1);
  if (!std::filesystem::is_regular_file(file))
    throw InputError("--set-from " + flag + ": no file " + file + " (the step that writes it has not run)");
  std::string value = read_text_file(file);
  while (!value.empty() && value.back() == '\n') value.pop_back();  // the line's end
  value = trim(value);
  if (value.empty() || value.find('\n') != std::string::npos)
    throw InputError("--set-from " + flag + ": " + file + " should hold one line, the value of " + key);
  return key + "=" + value;
}

}  // namespace

Spec load_spec(const po::variables_map& vm) {
  std::vector<std::string> sets;
  if (vm.count("env")) sets.push_back("env.name=" + vm["env"].as<std::string>());
  if (vm.count("set"))
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) sets.push_back(s);
  if (vm.count("set-from"))
    for (const auto& s : vm["set-from"].as<std::vector<std::string>>()) sets.push_back(set_from_file(s));
  return Spec::load(shardlab_schema(), vm.count("spec") ? vm["spec"].as<std::string>() : "", sets);
}

std::string version_string() { return std::string("shardlab ") + SHARDLAB_VERSION; }

void add_run_flags(po::options_description& flags) {
  flags.add_options()("out", po::value<std::string>()->default_value("runs"), "folder that holds the run folder")(
      "resume", "continue the run from its newest checkpoint (same spec)");
}

TrainOptions run_options(const po::variables_map& vm, const Spec& spec, const std::string& fallback) {
  TrainOptions options;
  options.out_root = vm["out"].as<std::string>();
  options.resume = vm.count("resume") > 0;
  options.run_name = spec.get_string("run.name");
  if (options.run_name.empty())
    options.run_name =
        vm.count("spec") ? std::filesystem::path(vm["spec"].as<std::string>()).stem().string() : fallback;
  return options;
}

std::string self_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error("cannot find the shardlab executable (/proc/self/exe): " + error.message());
  return path.string();
}

}  // namespace shardlab::cli
