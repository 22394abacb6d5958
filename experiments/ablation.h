// `shardlab ablate`: the survival-instinct grid (Li et al. 2023; ../shared/reference/offline.md)
// from one spec: tasks x datasets x algorithms x rewards {true, zero, random, negative} x seeds,
// plus behaviour cloning, the behaviour policy and the no-early-termination control (each
// dataset's copy with every terminal turned into a timeout, `relabel --terminals timeout`, for the
// learners and labels of ablate.noterm_algos and ablate.noterm_rewards). A grid of stages
// (experiments/grid.h):
//   datasets  one cell per task: its datasets (sharing one expert run) and their no-termination copies
//   runs      each cell a `shardlab offline` process in ROOT/runs/<cell>/, started here as soon as its
//             task's datasets exist
//   choose    with ablate.atac_betas: per dataset, ATAC's beta chosen from the true-reward ATAC runs
//             on the selection seeds (ablate.beta_seeds, in the runs stage), written to
//             ROOT/choices/<task>-<quality>-beta.json and .txt
//   atac      with ablate.atac_betas: the reported ATAC cells, each reading its dataset's choice at
//             start (`offline --set-from atac.beta=...txt`), so the grid's command lines stay fixed
//             and it runs on SLURM as it runs here
//   summary   the table
// Finished cells (result.json present) are not rerun; a killed cell resumes from its checkpoint.
// Results (ablation_summary.cpp):
//   ROOT/cells.csv      one row per cell: normalized score, return, length, the task's outcome rates,
//                       the actor's KL from its warm start (where result.json has it)
//   ROOT/ablation.csv   per task, dataset and learner (label, data): each number's mean and 95%
//                       Student-t interval over seeds
//   ROOT/ablation.md    the paper's table of scores, then per task the outcome rates, then the beta choice
//   ROOT/ablation.svg   bars of the same numbers: scores, then each task's outcome rates
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
  bool bc = true;                      // a BC cell per task, dataset and seed (true rewards: BC ignores them)
  std::string noterm_algos;            // learners run on the no-early-termination copies too; empty: none
  std::string noterm_rewards;          // their labels
  std::string atac_betas;              // ATAC's beta candidates, chosen per dataset; empty: atac.beta as set
  std::string beta_seeds = "100:102";  // seeds of the selection runs, disjoint from `seeds`

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
// listed as missing). Returns the Markdown.
std::string summarize_ablation(const std::string& root);

// The choose cell of one dataset (`ablate choose-beta ROOT TASK QUALITY`): reads the final
// evaluation of every selection run (true-reward ATAC, each candidate beta on each selection
// seed), chooses the candidate with the highest mean normalized score (a tie goes to the smaller
// beta, the more pessimistic critic) and writes beta_choice_path's JSON (every candidate's scores,
// the rule, the choice), then beta_value_path's one line. FileError naming the run and its log when
// a candidate's result is missing or has no normalized score: nothing is chosen then. Returns the
// chosen value as written in ablate.atac_betas.
std::string choose_ablation_beta(const std::string& root, const std::string& task, const std::string& quality);

}  // namespace shardlab
