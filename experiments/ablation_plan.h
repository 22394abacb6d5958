// The survival-instinct grid's axes and cells (experiments/ablation.h), shared by the grid
// (ablation.cpp), ATAC's beta choice (ablation_beta.cpp) and the summary (ablation_summary.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace shardlab {

class Spec;

struct AblationAxes {
  std::vector<std::string> tasks, datasets, algos, rewards;
  std::map<std::string, std::vector<std::string>> rewards_of;  // per learner: its labels (ablate.rewards_algo_*)
  std::vector<std::string> noterm_algos, noterm_rewards;       // the no-early-termination control's cells
  std::vector<std::string> betas;                              // ATAC's beta candidates as written; empty: none
  int64_t seed_begin = 0, seed_end = 0, beta_seed_begin = 0, beta_seed_end = 0;
  bool bc = true;
  // (key, value) overrides of a task's and of a learner's cells, in the order they apply.
  std::vector<std::pair<std::string, std::string>> overrides(const Spec& spec, const std::string& task,
                                                             const std::string& algo) const;
  // The reward labels of a learner's cells: ablate.rewards_algo_<algo>, or every ablate.rewards.
  const std::vector<std::string>& labels(const std::string& algo) const;
  bool noterm(const std::string& algo, const std::string& reward) const;
  bool any_noterm() const { return !noterm_algos.empty(); }
  bool selects_beta() const { return !betas.empty(); }
};

// The grid's axes; InputError naming the key for an unknown task, quality, learner, reward label or
// override, a control or beta candidate that does not fit, or selection seeds that overlap the
// reported ones, so nothing is found wrong only after hours of expert training.
AblationAxes check_ablation_axes(const Spec& spec);

struct AblationCell {
  std::string task, dataset, algo, reward;  // dataset: the quality, "medium-replay"
  int64_t seed = 0;
  bool noterm = false;  // on the dataset's no-early-termination copy
  std::string beta;     // a beta-selection run: the candidate, as written; empty otherwise
  // "bipedal_walker-medium-replay", with "-noterm" for the copy.
  std::string data_name() const;
  // Unique in the grid: "bipedal_walker-medium-replay-atac-zero-s3",
  // "bipedal_walker-medium-replay-noterm-atac-zero-s3", "bipedal_walker-medium-replay-atac-true-beta4-s100".
  std::string name() const;
  // Its column in the tables: "BC", "atac zero", "atac zero noterm".
  std::string column() const;
};

// The reported cells, in the table's order: per task, dataset and seed, each learner and label,
// its no-termination control beside it, then BC.
std::vector<AblationCell> reported_cells(const AblationAxes& axes);
// The beta-selection runs of one dataset: true-reward ATAC, each candidate on each selection seed.
std::vector<AblationCell> beta_candidate_cells(const AblationAxes& axes, const std::string& task,
                                               const std::string& quality);

// ROOT/datasets/<task>-<quality>[-noterm].h5
std::string ablation_dataset_path(const std::string& root, const std::string& task, const std::string& quality,
                                  bool noterm);
// ROOT/choices/<task>-<quality>-beta.json (the candidates' scores and the choice) and
// ROOT/choices/<task>-<quality>-beta.txt (the chosen value alone, read by `offline --set-from`).
std::string beta_choice_path(const std::string& root, const std::string& task, const std::string& quality);
std::string beta_value_path(const std::string& root, const std::string& task, const std::string& quality);

}  // namespace shardlab
