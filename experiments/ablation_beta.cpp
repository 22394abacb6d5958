// ATAC's beta chosen per dataset (the paper tunes it in 4^k, k = -4..4, per dataset): the
// choose cell of experiments/ablation.h. The selection runs use their own seeds, so the
// reported true-reward column is not the maximum of its own evaluations.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "experiments/ablation.h"
#include "experiments/ablation_plan.h"
#include "experiments/grid_summary.h"
#include "experiments/schema.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

// The normalized score of a finished run's final evaluation; FileError naming the run and its log
// when there is none.
double final_score(const fs::path& root, const AblationCell& cell) {
  const fs::path file = root / "runs" / cell.name() / "result.json";
  const std::string log = (root / "logs" / (cell.name() + ".log")).string();
  const std::string what =
      "choose beta for " + cell.data_name() + ": candidate beta " + cell.beta + " seed " + std::to_string(cell.seed);
  if (!fs::is_regular_file(file))
    throw FileError(what + " has no result (" + file.string() + "): its run failed or has not finished (see " + log +
                    "); nothing is chosen");
  const nlohmann::json j = nlohmann::json::parse(read_text_file(file.string()), nullptr, false);
  if (j.is_discarded()) throw FileError(file.string() + ": not readable JSON");
  const nlohmann::json e = j.value("evaluation", nlohmann::json());
  const nlohmann::json score = e.is_object() ? e.value("normalized_score", nlohmann::json()) : nlohmann::json();
  if (!score.is_number())
    throw FileError(what + ": " + file.string() +
                    " has no normalized score (no evaluation, or the dataset records no reference returns); nothing "
                    "is chosen");
  return score.get<double>();
}

}  // namespace

std::string choose_ablation_beta(const std::string& root_text, const std::string& task, const std::string& quality) {
  const fs::path root = fs::absolute(root_text).lexically_normal();
  const std::string base = (root / "spec.ini").string();
  if (!fs::is_regular_file(base)) throw FileError(root_text + ": not an ablation folder (no spec.ini)");
  const Spec spec = Spec::load(shardlab_schema(), base, {});
  const AblationAxes axes = check_ablation_axes(spec);
  if (!axes.selects_beta()) throw InputError(base + ": ablate.atac_betas is empty; there is no beta to choose");
  if (std::find(axes.tasks.begin(), axes.tasks.end(), task) == axes.tasks.end() ||
      std::find(axes.datasets.begin(), axes.datasets.end(), quality) == axes.datasets.end())
    throw InputError("choose-beta " + task + " " + quality + ": not a task and dataset of " + base + " (tasks " +
                     join(axes.tasks, ", ") + "; datasets " + join(axes.datasets, ", ") + ")");
  // Every candidate's scores over the selection seeds; the best mean wins, a tie (equal to 1e-9)
  // goes to the smaller beta: the more pessimistic critic, the one nearer the data.
  Json candidates = Json::array();
  size_t best = 0;
  std::vector<double> means;
  for (size_t i = 0; i < axes.betas.size(); ++i) {
    std::vector<double> scores;
    std::vector<int64_t> seeds;
    for (const AblationCell& cell : beta_candidate_cells(axes, task, quality))
      if (cell.beta == axes.betas[i]) {
        scores.push_back(final_score(root, cell));
        seeds.push_back(cell.seed);
      }
    means.push_back(finite_mean(scores));
    candidates.push_back({{"beta", std::stod(axes.betas[i])},
                          {"beta_text", axes.betas[i]},
                          {"seeds", seeds},
                          {"normalized_scores", scores},
                          {"mean", means.back()},
                          {"ci95", t_interval95(scores)}});
    const double v = std::stod(axes.betas[i]), best_v = std::stod(axes.betas[best]);
    const bool tie = std::abs(means.back() - means[best]) <= 1e-9 * std::max(1.0, std::abs(means[best]));
    if (i > 0 && ((!tie && means.back() > means[best]) || (tie && v < best_v))) best = i;
  }
  std::vector<std::string> tied;
  for (size_t i = 0; i < means.size(); ++i)
    if (i != best && std::abs(means[i] - means[best]) <= 1e-9 * std::max(1.0, std::abs(means[best])))
      tied.push_back(axes.betas[i]);
  const AblationConfig config = AblationConfig::from_spec(spec);
  Json j;
  j["dataset"] = task + "-" + quality;
  j["rule"] =
      "the candidate with the highest mean normalized score of the final evaluation of true-reward ATAC over the "
      "selection seeds; a tie goes to the smaller beta";
  j["selection_seeds"] = config.beta_seeds;
  j["reported_seeds"] = config.seeds;
  j["candidates"] = candidates;
  j["chosen"] = std::stod(axes.betas[best]);
  j["chosen_text"] = axes.betas[best];
  j["tied_with"] = tied;
  std::error_code error;
  fs::create_directories(root / "choices", error);
  if (error) throw FileError((root / "choices").string() + ": cannot create it: " + error.message());
  write_file_atomically(beta_choice_path(root.string(), task, quality), j.dump(2) + "\n");
  write_file_atomically(beta_value_path(root.string(), task, quality), axes.betas[best] + "\n");
  std::cout << task << "-" << quality << ": atac.beta = " << axes.betas[best] << " (mean normalized score "
            << grid_entry_text(j["candidates"][best]["normalized_scores"].get<std::vector<double>>(), 1)
            << " over selection seeds " << config.beta_seeds
            << (tied.empty() ? "" : "; tied with " + join(tied, ", ") + ", the smaller taken") << ")\n";
  return axes.betas[best];
}

}  // namespace shardlab
