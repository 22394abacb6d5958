// Reading damaged input with a library that may crash or hang on it, rather than throw (libhdf5
// 1.10.8 and libtorch's archive readers, both found by fuzzing): the reading runs in a forked child
// process, so a crash or a hang becomes one error line instead of taking the command down.
#pragma once

#include <functional>
#include <string>

namespace shardlab {

// Runs `work` in a child process and returns the text it returned. An error it throws is thrown
// again here with its message and kind (CorruptFile, FileError, InputError, or Error for any
// other). A crash (a signal, or a sanitizer's non-zero exit) is a CorruptFile: `crashed`, with the
// signal added; with `timeout_s` > 0, a child still running after that many seconds is killed and
// reported as a CorruptFile too. Where no child can be started, `work` runs in this process.
std::string run_isolated(const std::function<std::string()>& work, const std::string& crashed, double timeout_s = 0);

}  // namespace shardlab
