// `shardlab reproduce`: runs a recipe (experiments/recipe.h) into OUT/NAME and writes its result.
//   OUT/runs/<spec>-<key>/   the trained runs, shared by every recipe in OUT: the key is a hash of
//                            the resolved spec, the rank count and the training code's version, so
//                            a run is reused only when all three match (the studies of one agent
//                            train it once), and resumed when it was interrupted
//   OUT/NAME/                the steps' outputs, grid.json and logs/ (the one grid runner), and
//   OUT/NAME/result.json     the numbers its tables and figures use, with how they were made
//   OUT/NAME/result.md       the page written from result.json (experiments/result_page.h)
// A rerun skips the steps whose files exist; results of other code or another scale are refused
// unless --fresh, which measures again (the trained runs stay).
#pragma once

#include <string>

#include "experiments/recipe.h"

namespace shardlab {

struct ReproduceOptions {
  std::string out = "runs/reproduce";
  bool smoke = false;  // the [scale] smoke values and each run's smoke overrides: seconds, not results
  bool fresh = false;  // remove OUT/NAME's earlier results first
  int jobs = 2;        // processes at once (a run of nproc ranks counts nproc)
};

// Runs `recipe` and returns the path of its result.json. InputError for a bad recipe or a folder
// that is not one of its results; Error naming the failed step and its log.
std::string reproduce(const Recipe& recipe, const ReproduceOptions& options, const std::string& self);

// The source tree's commit ("" outside a git checkout), with " (and uncommitted changes)" when the
// tree differs from it.
std::string source_commit();
// A hash of the training code (agents/, core/, envs/, offline/, CMakeLists.txt) as the working tree
// has it, uncommitted changes included: what a trained run's reuse depends on.
std::string training_code_version();

}  // namespace shardlab
