// `shardlab ablate`: the survival-instinct grid (Li et al. 2023; ../shared/reference/offline.md)
// from one spec: tasks x datasets x algorithms x rewards {true, zero, random, negative} x seeds,
// plus behaviour cloning and the behaviour policy. Each cell is a `shardlab offline` process in
// ROOT/cells/<task>-<dataset>-<algo>-<reward>-s<seed>/, run --jobs at a time, each once its task's
// datasets exist (one process makes a task's datasets, since they share its expert run). Finished cells
// (result.json present) are not rerun; a killed cell resumes from its checkpoint. Results:
//   ROOT/ablation.csv   one row per cell: normalized score, return, length, the task's outcome rates
//   ROOT/ablation.md    the paper's table: mean and 95% interval over seeds per cell
//   ROOT/ablation.svg   grouped bars of the same numbers
#pragma once

#include <string>

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

  static void declare_keys(SpecSchema& schema);
  static AblationConfig from_spec(const Spec& spec);
};

// Runs (or continues) the grid; `self` is the shardlab executable that runs the cells. Returns
// the path of ablation.md.
std::string run_ablation(const Spec& spec, const std::string& spec_path, const std::string& self, int jobs);

}  // namespace shardlab
