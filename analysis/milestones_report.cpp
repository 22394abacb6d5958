// milestones.csv, milestones.json and the printed summary of `analyze milestones`.
#include <algorithm>
#include <map>
#include <sstream>

#include "analysis/milestones.h"
#include "analysis/report_json.h"
#include "core/statistics.h"

namespace shardlab::analysis {
namespace {

std::string seeds_text(std::pair<int64_t, int64_t> seeds) {
  return std::to_string(seeds.first) + ":" + std::to_string(seeds.second);
}

// A milestone index as its step; the number of milestones (or -1) as never.
Json step_json(const MilestoneRun& run, int64_t index) {
  if (index < 0 || index >= static_cast<int64_t>(run.steps.size())) return nullptr;
  return run.steps[static_cast<size_t>(index)];
}

std::string step_text(const MilestoneRun& run, int64_t index) {
  const Json j = step_json(run, index);
  return j.is_null() ? "never" : std::to_string(j.get<int64_t>());
}

Json interval_json(const Interval& i) { return Json::array({number(i.lo), number(i.hi)}); }

// The order as tied groups, first first: the rank, the crossing milestone (-1: never, last) and the
// quantities that share them.
struct TiedGroup {
  double rank = 0;
  int64_t index = -1;
  std::vector<std::string> names;
};
std::vector<TiedGroup> tied_groups(const RunAnalysis& a, size_t rule) {
  const auto names = milestone_names();
  std::map<double, TiedGroup> groups;
  for (size_t i = 0; i < names.size(); ++i) {
    TiedGroup& g = groups[a.ranks[rule][i]];
    g.rank = a.ranks[rule][i];
    g.index = a.crossings[rule][i];
    g.names.push_back(names[i]);
  }
  std::vector<TiedGroup> out;
  for (auto& [rank, g] : groups) out.push_back(std::move(g));
  return out;
}

Json order_json(const MilestoneRun& run, const RunAnalysis& a, size_t rule) {
  Json order = Json::array();
  for (const TiedGroup& g : tied_groups(a, rule))
    order.push_back({{"rank", number(g.rank)}, {"step", step_json(run, g.index)}, {"quantities", g.names}});
  return order;
}

Json quantity_json(const MilestoneRun& run, const QuantityResult& r, const MilestoneQuantity& q, const RunAnalysis& a,
                   size_t milestone_column) {
  Json j;
  j["meaning"] = q.meaning;
  j["step0"] = number(r.values.front());
  j["step0_ci95"] = interval_json(r.intervals.front());
  j["final"] = number(r.values.back());
  j["final_ci95"] = interval_json(r.intervals.back());
  if (!q.milestone) return j;
  j["step0_standard_error"] = number(r.step0_se);
  for (size_t k = 0; k < threshold_rules().size(); ++k) {
    const Crossing& c = r.crossings[k];
    j[rule_name(threshold_rules()[k])] = {
        {"threshold", number(c.threshold.value)},
        {"reachable", c.threshold.reachable},
        {"crossing_step", step_json(run, c.index)},
        {"crossing_step_ci95", Json::array({step_json(run, c.lo_index), step_json(run, c.hi_index)})},
        {"never_crossed_draws", c.never_draws},
        {"rank", number(a.ranks[k][milestone_column])}};
  }
  return j;
}

Json run_json(const MilestoneRun& run, const RunAnalysis& a) {
  Json j;
  j["run"] = run.run_dir;
  j["run_seed"] = run.run_seed >= 0 ? Json(run.run_seed) : Json(nullptr);
  j["fit_mazes"] = run.fit.used;
  j["test_mazes"] = run.test.used;
  j["decision_square_mazes"] = run.decision_square_mazes;
  j["best_channel"] = run.best_channel;
  Json quantities;
  size_t column = 0;
  for (size_t q = 0; q < milestone_quantities().size(); ++q) {
    const auto& quantity = milestone_quantities()[q];
    quantities[quantity.name] = quantity_json(run, a.quantities[q], quantity, a, column);
    column += quantity.milestone;
  }
  j["quantities"] = quantities;
  Json order;
  for (size_t k = 0; k < threshold_rules().size(); ++k) order[rule_name(threshold_rules()[k])] = order_json(run, a, k);
  j["order"] = order;
  return j;
}

MazeCounts counts_of(const MilestoneRun& run) {
  MazeCounts c;
  c.seeds = run.test.seeds;
  c.outside_sizes = run.test.outside_sizes;
  c.min_maze_size = run.min_maze_size;
  c.max_maze_size = run.max_maze_size;
  c.other_left_out = {{"without_cheese", run.test.without_cheese}};
  c.used = run.test.used;
  return c;
}

}  // namespace

std::string milestones_csv(const MilestoneStudy& study) {
  std::ostringstream out;
  out << "run,run_seed,global_step,quantity,value,value_ci95_lo,value_ci95_hi,units,best_channel,checkpoint\n";
  for (size_t r = 0; r < study.runs.size(); ++r) {
    const MilestoneRun& run = study.runs[r];
    for (size_t i = 0; i < run.steps.size(); ++i)
      for (size_t q = 0; q < milestone_quantities().size(); ++q) {
        const QuantityResult& res = study.analyses[r].quantities[q];
        const std::string& name = milestone_quantities()[q].name;
        out << run.run_dir << ',' << run.run_seed << ',' << run.steps[i] << ',' << name << ','
            << csv_number(res.values[i]) << ',' << csv_number(res.intervals[i].lo) << ','
            << csv_number(res.intervals[i].hi) << ',' << run.series[q].samples[i].units() << ','
            << (name == "best_channel_score" ? std::to_string(run.best_channel[i]) : "") << ',' << run.checkpoints[i]
            << '\n';
      }
  }
  return out.str();
}

std::string milestones_json(const MilestoneStudy& study) {
  const MilestoneOptions& o = study.options;
  // Over many checkpoints (each run names its own): the header's checkpoint is left out.
  Json j = summary_header("milestones", "", seeds_text(o.test_seeds), "ours", counts_of(study.runs.front()));
  j["layer"] = o.layer;
  j["episodes_per_evaluation"] = o.episodes;
  j["test_seeds"] = seeds_text(o.test_seeds);
  j["fit_seeds"] = seeds_text(o.fit_seeds);
  Json rules;
  for (ThresholdRule rule : threshold_rules()) rules[rule_name(rule)] = rule_meaning(rule, o.crossing.standard_errors);
  j["design"] = {{"threshold_rules", rules},
                 {"standard_errors", number(o.crossing.standard_errors)},
                 {"crossing", "the first milestone above the threshold whose next milestone is above it too"},
                 {"crossing_step_ci95",
                  "2.5 and 97.5 percentiles of the crossing step over bootstrap resamples of "
                  "each milestone's episodes or mazes (null: never)"},
                 {"bootstrap_draws", o.crossing.draws},
                 {"seed", o.crossing.seed},
                 {"order", "ranks of the crossing steps, ties averaged, never-crossed quantities last and tied"}};
  j["steps"] = study.runs.front().steps;
  Json runs = Json::array();
  for (size_t r = 0; r < study.runs.size(); ++r) runs.push_back(run_json(study.runs[r], study.analyses[r]));
  j["runs"] = runs;
  Json agreement;
  for (size_t k = 0; k < threshold_rules().size(); ++k) {
    const Agreement& a = study.agreement[k];
    agreement[rule_name(threshold_rules()[k])] = {
        {"kendalls_w", number(a.w)}, {"p_value", number(a.p)}, {"runs", a.runs}, {"permutations", a.permutations}};
  }
  j["agreement"] = agreement;
  return dump(j);
}

std::string milestones_text(const MilestoneStudy& study) {
  std::ostringstream out;
  const auto& o = study.options;
  for (size_t r = 0; r < study.runs.size(); ++r) {
    const MilestoneRun& run = study.runs[r];
    const RunAnalysis& a = study.analyses[r];
    out << "milestones of " << run.run_dir
        << (run.run_seed >= 0 ? " (run.seed " + std::to_string(run.run_seed) + ")" : "")
        << ": channel and probe fitted on " << run.fit.used << " mazes (seeds " << seeds_text(o.fit_seeds)
        << "), scored on " << run.test.used << " others (seeds " << seeds_text(o.test_seeds) << "), "
        << run.decision_square_mazes << " of them with a decision square\n";
    for (size_t q = 0; q < milestone_quantities().size(); ++q) {
      const auto& quantity = milestone_quantities()[q];
      const QuantityResult& res = a.quantities[q];
      out << "  " << quantity.name << ": " << csv_number(res.values.front()) << " -> " << csv_number(res.values.back());
      for (size_t k = 0; quantity.milestone && k < threshold_rules().size(); ++k) {
        const Crossing& c = res.crossings[k];
        out << "; " << rule_name(threshold_rules()[k]) << ' '
            << (c.threshold.reachable ? "> " + csv_number(c.threshold.value) + ": step " + step_text(run, c.index)
                                      : "never (no rise above step 0 beyond its rule)")
            << " [" << step_text(run, c.lo_index) << ", " << step_text(run, c.hi_index) << "], " << c.never_draws << "/"
            << o.crossing.draws << " resamples never";
      }
      out << (quantity.milestone ? "" : " (a control)") << '\n';
    }
    for (size_t k = 0; k < threshold_rules().size(); ++k) {
      out << "  order (" << rule_name(threshold_rules()[k]) << "):";
      for (const TiedGroup& g : tied_groups(a, k)) {
        out << ' ' << csv_number(g.rank) << ". ";
        for (size_t i = 0; i < g.names.size(); ++i) out << (i ? " = " : "") << g.names[i];
        out << " (" << step_text(run, g.index) << ");";
      }
      out << '\n';
    }
  }
  for (size_t k = 0; k < threshold_rules().size(); ++k) {
    const Agreement& a = study.agreement[k];
    out << "Kendall's W of the order (" << rule_name(threshold_rules()[k]) << "), " << a.runs << " runs: ";
    if (a.runs < 2)
      out << "needs two runs or more\n";
    else
      out << csv_number(a.w) << " (permutation p " << csv_number(a.p) << ", " << a.permutations << " permutations)\n";
  }
  return out.str();
}

}  // namespace shardlab::analysis
