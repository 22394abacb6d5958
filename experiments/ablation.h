// `shardlab ablate`: the survival-instinct grid (Li et al. 2023; ../shared/reference/offline.md)
// from one spec: tasks x datasets x algorithms x rewards {true, zero, random, negative} x seeds,
// plus behaviour cloning and the behaviour policy. A grid of three stages (experiments/grid.h):
// "datasets" (one cell per task: its datasets share one expert run), "runs" (each a `shardlab
// offline` process in ROOT/runs/<task>-<dataset>-<algo>-<reward>-s<seed>/, started here as soon as
// its task's datasets exist) and "summary". Finished cells (result.json present) are not rerun; a
// killed cell resumes from its checkpoint. Results, by the grid's summary writer:
//   ROOT/cells.csv      one row per cell: normalized score, return, length, the task's outcome rates
//   ROOT/ablation.csv   per task and dataset: each column's mean and 95% interval over seeds
//   ROOT/ablation.md    the paper's table: mean ± 95% interval over seeds per cell
//   ROOT/ablation.svg   grouped bars of the same numbers
#pragma once

#include <memory>
#include <string>

#include "core/folder_lock.h"
#include "experiments/grid.h"

namespace shardlab {

class Spec;
class SpecSchema;

struct AblationConfig {
  std::string out = "runs/survival_instinct";
  std::string tasks = "bipedal_walker,lunar_lander_continuous,maze";
  std::string datasets = "medium-replay";
  std::string algos = "atac,iql";
  std::string rewards = "true,zero,random,negative";
  std::string seeds = "0:3";
  bool bc = true;  // a BC cell per task, dataset and seed (true rewards: BC ignores them)

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static AblationConfig from_spec(const Spec& spec);
};

// Checks every key a cell will be given, creates ROOT (locked while the grid lives) with its
// resolved spec.ini and grid.json, and returns the grid.
struct AblationGrid {
  Grid grid;
  std::shared_ptr<FolderLock> lock;
};
AblationGrid prepare_ablation(const Spec& spec, const std::string& spec_path);

// Runs (or continues) the grid here, `jobs` processes at a time; `self` is the shardlab
// executable that runs the cells. Returns the path of ablation.md.
std::string run_ablation(const Spec& spec, const std::string& spec_path, const std::string& self, int jobs);

// Writes ROOT/ablation.csv, .md, .svg and cells.csv from the finished cells (unfinished ones are
// listed as missing). Returns the Markdown table.
std::string summarize_ablation(const std::string& root);

}  // namespace shardlab
