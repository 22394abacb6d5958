// `shardlab analyze STUDY ...`: finds the study in the registry (analysis/study.h) and runs it
// with the one schema of every spec key.
#include <iostream>

#include "analysis/study.h"
#include "cli/cli.h"

namespace shardlab::cli {

int cmd_analyze(const std::vector<std::string>& args) {
  if (args.empty()) {  // a usage error: the usage on stderr
    std::cerr << analysis::analyze_usage();
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::cout << analysis::analyze_usage();
    return 0;
  }
  const analysis::StudyCommand& study = analysis::find_study(args[0]);
  return study.run({args.begin() + 1, args.end()}, shardlab_schema());
}

}  // namespace shardlab::cli
