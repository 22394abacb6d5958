// Child processes run a few at a time: the one way shardlab runs a grid of commands (the
// ablation's datasets and cells, a sweep's train and eval steps). Each job is a command line
// started with posix_spawnp (no shell), its stdout and stderr appended to its own log file, once
// the job it waits for has succeeded.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace shardlab {

struct ProcessJob {
  std::string name;               // for the progress line and errors
  std::vector<std::string> argv;  // argv[0]: a path, or a program name looked up in PATH
  std::string log;                // stdout and stderr are appended here (its folder must exist)
  int after = -1;                 // index of an earlier job that must succeed first; -1: none
};

// Runs `jobs` at most `parallel` at a time, each once its `after` job has succeeded (a job whose
// dependency failed is skipped), with a progress line "`what` done/total" on stderr; `note(i, ok)`,
// if given, adds to that line when job i ends. Throws Error naming the first failure and its log
// after every runnable job has ended.
void run_process_pool(const std::vector<ProcessJob>& jobs, int parallel, const std::string& what,
                      const std::function<std::string(size_t, bool)>& note = {});

}  // namespace shardlab
