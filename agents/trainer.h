// `shardlab train`: a training run from a resolved spec, in its own run folder:
//   spec.ini         the fully resolved spec
//   run.json         seed, threads, device, version, start and resume times
//   metrics.csv      one row per update, CleanRL's metric names plus the maze's rates
//   checkpoints/     update_NNNNNNN.pt, the newest kept (always the last update's)
//   experience.h5    optional: every transition in the shared experience format
#pragma once

#include <string>

namespace shardlab {

class Spec;
class SpecSchema;

struct TrainOptions {
  std::string out_root = "runs";
  std::string run_name;  // folder name under out_root
  bool resume = false;   // continue the run in that folder from its newest checkpoint
};

// Trains and returns the run folder. Throws InputError for bad specs or folders, Error with
// "non-finite loss" when training diverges (the last good checkpoint stays).
std::string train(const Spec& spec, const TrainOptions& options);

// The metrics.csv columns, in order.
const char* const* metric_columns(int* count);

}  // namespace shardlab
