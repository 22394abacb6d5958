// Command-line flags (Boost.Program_options), as every command and study parses them.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace shardlab {

// Parses a command's flags; unknown flags and bad values become InputError naming the command,
// and so does a non-finite number.
boost::program_options::variables_map parse_flags(const std::string& command, const std::vector<std::string>& args,
                                                  const boost::program_options::options_description& flags,
                                                  const boost::program_options::positional_options_description& positional);

// The integer flag `name` (given or defaulted); InputError "--name V: expected at least MIN" below
// `min`.
int64_t flag_at_least(const boost::program_options::variables_map& vm, const std::string& name, int64_t min);

}  // namespace shardlab
