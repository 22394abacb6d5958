#include "core/flags.h"

#include <cmath>

#include "core/error.h"

namespace shardlab {

namespace po = boost::program_options;

po::variables_map parse_flags(const std::string& command, const std::vector<std::string>& args,
                              const po::options_description& flags,
                              const po::positional_options_description& positional) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(flags).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError("shardlab " + command + ": " + e.what() + " (see `shardlab " + command + " --help`)");
  }
  for (const auto& [name, value] : vm) {
    const double* number = boost::any_cast<double>(&value.value());
    if (number && !std::isfinite(*number))
      throw InputError("shardlab " + command + ": --" + name + " " + std::to_string(*number) +
                       ": expected a finite number");
  }
  return vm;
}

int64_t flag_at_least(const po::variables_map& vm, const std::string& name, int64_t min) {
  const boost::any& value = vm[name].value();
  const int64_t v = value.type() == typeid(int) ? boost::any_cast<int>(value) : boost::any_cast<int64_t>(value);
  if (v < min) throw InputError("--" + name + " " + std::to_string(v) + ": expected at least " + std::to_string(min));
  return v;
}

}  // namespace shardlab
