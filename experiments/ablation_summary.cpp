// The survival-instinct grid's results (experiments/ablation.h): the paper's table of scores, each
// task's outcome rates per learner and label, ATAC's beta choice, and the chart of both. Every
// entry is the mean over seeds with its Student-t 95% interval; a rate is each seed's fraction of
// its evaluation episodes, so its interval is over seeds too.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/metrics_csv.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "envs/registry.h"
#include "experiments/ablation.h"
#include "experiments/ablation_plan.h"
#include "experiments/grid_summary.h"
#include "experiments/schema.h"
#include "offline/offline_run.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

const char* const kScore = "normalized_score";
const char* const kKl = "actor_kl_from_warm_start";

// The columns of the paper's table: the behaviour policy, BC, then each learner and label with its
// no-termination control beside it.
std::vector<std::string> score_columns(const AblationAxes& axes) {
  std::vector<std::string> columns = {"behavior"};
  if (axes.bc) columns.push_back("BC");
  for (const auto& algo : axes.algos)
    for (const auto& reward : axes.labels(algo)) {
      columns.push_back(AblationCell{"", "", algo, reward, 0, false, ""}.column());
      if (axes.noterm(algo, reward)) columns.push_back(AblationCell{"", "", algo, reward, 0, true, ""}.column());
    }
  return columns;
}

// A finished cell's numbers: its evaluation's (score, return, length, rates) and, where the learner
// records it, the actor's KL from its warm start (in result.json or its evaluation).
std::map<std::string, double> cell_numbers(const fs::path& file) {
  const nlohmann::json j = nlohmann::json::parse(read_text_file(file.string()), nullptr, false);
  if (j.is_discarded()) throw FileError(file.string() + ": not readable JSON");
  const nlohmann::json e = j.value("evaluation", nlohmann::json());
  std::map<std::string, double> n = evaluation_numbers(e);
  for (const nlohmann::json* where : {&j, &e})
    if (where->is_object() && where->contains(kKl) && (*where)[kKl].is_number()) n[kKl] = (*where)[kKl].get<double>();
  if (!n.count(kScore)) n[kScore] = std::nan("");
  if (e.is_object() && e.value("episodes", nlohmann::json()).is_number()) n["episodes"] = e["episodes"].get<double>();
  return n;
}

// What one dataset file says: the behaviour policy's normalized score, its outcome rates where
// they are known, and its episode ends.
struct DataFacts {
  double behaviour_score = std::nan("");
  std::map<std::string, double> rates;  // by rate name (fell_rate, ...); empty when not known
  std::string episodes;                 // "812 episodes: 61% end in a terminal, 39% by the time limit"
};

// A replay dataset's outcome rates (medium-replay: the training run's own episodes up to the
// medium checkpoint, metadata source_run and replay_steps): every rate over the episodes that the
// run's metrics.csv counts by then, each row's charts/<rate> weighted by its charts/episodes.
// Empty for data a policy collected (not recorded) or when the run's metrics are gone.
std::map<std::string, double> replay_rates(const std::map<std::string, std::string>& m,
                                           const std::vector<std::string>& names) {
  std::map<std::string, double> rates;
  if (!m.count("source_run") || !m.count("replay_steps")) return rates;
  const fs::path csv = fs::path(m.at("source_run")) / "metrics.csv";
  if (!fs::exists(csv)) return rates;
  const MetricsTable t = read_metrics_csv(csv.string());
  const auto count = t.columns.find("charts/episodes");
  if (count == t.columns.end()) return rates;
  const double last = std::stod(m.at("replay_steps"));
  const std::vector<double>& steps = t.columns.at("global_step");
  for (const std::string& name : names) {
    const auto column = t.columns.find("charts/" + name);
    if (column == t.columns.end()) continue;
    double episodes = 0, sum = 0;
    for (size_t i = 0; i < t.rows(); ++i)
      if (steps[i] <= last && count->second[i] > 0 && std::isfinite(column->second[i])) {
        episodes += count->second[i];
        sum += count->second[i] * column->second[i];
      }
    if (episodes > 0) rates[name] = sum / episodes;
  }
  return rates;
}

DataFacts data_facts(const std::string& path, const std::vector<std::string>& rate_names) {
  DataFacts facts;
  if (!fs::exists(path)) return facts;
  const ExperienceReader data(path);
  const auto& m = data.metadata();
  facts.rates = replay_rates(m, rate_names);
  auto get = [&](const char* key) { return m.count(key) ? std::stod(m.at(key)) : std::nan(""); };
  facts.behaviour_score =
      normalized_score(get("policy_mean_return"), get("reference_random_return"), get("reference_expert_return"));
  int64_t terminals = 0, timeouts = 0;
  for (size_t i = 0; i < data.terminals().size(); ++i) {
    terminals += data.terminals()[i] != 0;
    timeouts += data.terminals()[i] == 0 && data.timeouts()[i] != 0;
  }
  const double ends = std::max<double>(1, static_cast<double>(terminals + timeouts));
  std::ostringstream out;
  out.precision(3);
  out << terminals + timeouts << " episodes: " << 100.0 * static_cast<double>(terminals) / ends
      << "% end in a terminal, " << 100.0 * static_cast<double>(timeouts) / ends << "% by the time limit";
  facts.episodes = out.str();
  return facts;
}

struct Summary {
  AblationAxes axes;
  fs::path root;
  GridTable scores;                           // the paper's table
  std::map<std::string, GridTable> outcomes;  // per task
  GridTable all;                              // ablation.csv: every task, dataset, learner and number
  std::vector<GridCellNumbers> cells;
  std::map<std::string, std::string> chosen_beta;  // per "task-quality"
  std::vector<std::string> beta_sections, data_lines;
  std::map<std::string, int64_t> episodes;  // per task: evaluation episodes per seed (the cells' largest)
};

// "out_of_bounds_rate" -> "out of bounds".
std::string rate_title(const std::string& rate) {
  std::string title = rate.substr(0, rate.size() - 5);
  std::replace(title.begin(), title.end(), '_', ' ');
  return title;
}

std::vector<std::string> task_rates(const std::string& task) {
  std::vector<std::string> rates;
  for (const EpisodeRate& r : find_env(task).rates) rates.push_back(r.name);
  return rates;
}

// The outcome table of one task: a row per dataset and learner, columns score, rates, KL.
GridTable outcome_table(const AblationAxes& axes, const std::string& task) {
  GridTable t;
  t.heading = task;
  t.key_names = {"dataset", "learner"};
  t.absent = "—";
  t.columns = {"score"};
  for (const std::string& r : task_rates(task)) t.columns.push_back(rate_title(r));
  t.columns.push_back("actor KL from warm start");
  for (const std::string& c : t.columns) t.decimals[c] = c == "score" ? 1 : 2;
  for (const auto& q : axes.datasets)
    for (const std::string& column : score_columns(axes)) t.rows.push_back({{q, column}, {}, {}});
  return t;
}

// The row whose first keys are `keys` (the scores' rows carry the chosen beta after the dataset).
size_t row_index(const GridTable& t, const std::vector<std::string>& keys) {
  for (size_t i = 0; i < t.rows.size(); ++i)
    if (t.rows[i].keys.size() >= keys.size() && std::equal(keys.begin(), keys.end(), t.rows[i].keys.begin())) return i;
  throw Error("ablation summary: no row " + join(keys, " "));
}

// One finished or missing cell into every table.
void add_cell(Summary& s, const AblationCell& cell) {
  const fs::path file = s.root / "runs" / cell.name() / "result.json";
  GridTable& out = s.outcomes[cell.task];
  const size_t row = row_index(out, {cell.dataset, cell.column()});
  const size_t all_row = row_index(s.all, {cell.task, cell.dataset, cell.column()});
  const std::string seed = std::to_string(cell.seed);
  if (!fs::exists(file)) {
    s.scores.missing.push_back(cell.name());
    out.rows[row].missing_seeds.push_back(seed);
    s.all.rows[all_row].missing_seeds.push_back(seed);
    return;
  }
  const std::map<std::string, double> n = cell_numbers(file);
  if (n.count("episodes"))
    s.episodes[cell.task] = std::max(s.episodes[cell.task], static_cast<int64_t>(n.at("episodes")));
  s.scores.samples[{row_index(s.scores, {cell.task + "-" + cell.dataset}), cell.column()}].push_back(n.at(kScore));
  out.rows[row].seeds.push_back(seed);
  s.all.rows[all_row].seeds.push_back(seed);
  out.samples[{row, "score"}].push_back(n.at(kScore));
  for (const auto& [name, value] : n) {
    if (ends_with(name, "_rate")) out.samples[{row, rate_title(name)}].push_back(value);
    if (name == kKl) out.samples[{row, "actor KL from warm start"}].push_back(value);
    if (name == kScore || ends_with(name, "_rate") || name == kKl) s.all.samples[{all_row, name}].push_back(value);
  }
  s.cells.push_back({cell.name(),
                     {{"task", cell.task},
                      {"dataset", cell.dataset},
                      {"data", cell.noterm ? "noterm" : "original"},
                      {"algo", cell.algo},
                      {"reward", cell.reward}},
                     cell.seed,
                     n});
}

// ATAC's beta per dataset, from the choose cell's file: its candidates and the choice.
void add_beta_choice(Summary& s, const std::string& task, const std::string& q) {
  const std::string path = beta_choice_path(s.root.string(), task, q);
  std::ostringstream md;
  md << "**" << task << "-" << q << "**: ";
  if (!fs::exists(path)) {
    md << "not chosen yet (" << path << " does not exist).\n";
    s.beta_sections.push_back(md.str());
    return;
  }
  const nlohmann::json j = nlohmann::json::parse(read_text_file(path), nullptr, false);
  if (j.is_discarded()) throw FileError(path + ": not readable JSON");
  const std::string chosen = j.value("chosen_text", std::string("?"));
  s.chosen_beta[task + "-" + q] = chosen;
  md << "beta = " << chosen << " chosen on seeds " << j.value("selection_seeds", std::string("?"));
  const auto tied = j.value("tied_with", std::vector<std::string>{});
  if (!tied.empty()) md << " (tied with " << join(tied, ", ") << "; the smaller taken)";
  md << ".\n\n| beta | normalized score | seeds |\n|---|---|---|\n";
  for (const auto& c : j.value("candidates", nlohmann::json::array())) {
    const std::string text = c.value("beta_text", std::string("?"));
    const auto scores = c.value("normalized_scores", std::vector<double>{});
    md << "| " << (text == chosen ? "**" + text + "**" : text) << " | " << grid_entry_text(scores, 1) << " | "
       << scores.size() << " |\n";
  }
  s.beta_sections.push_back(md.str());
}

// Summary s's tables laid out, every task, dataset and learner with its rows.
Summary empty_summary(const Spec& spec, const fs::path& root) {
  Summary s;
  s.axes = check_ablation_axes(spec);
  s.root = root;
  s.scores.heading = "Survival instinct: normalized scores";
  s.scores.key_names = {"dataset"};
  if (s.axes.selects_beta()) s.scores.key_names.push_back("ATAC beta");
  s.scores.seed_column = false;
  s.scores.absent = "—";
  s.scores.columns = score_columns(s.axes);
  for (const std::string& c : s.scores.columns) s.scores.decimals[c] = 1;
  s.all.key_names = {"task", "dataset", "learner"};
  s.all.columns = {kScore};
  for (const auto& task : s.axes.tasks) {
    s.outcomes[task] = outcome_table(s.axes, task);
    for (const std::string& r : task_rates(task))
      if (std::find(s.all.columns.begin(), s.all.columns.end(), r) == s.all.columns.end()) s.all.columns.push_back(r);
  }
  s.all.columns.push_back(kKl);
  for (const auto& task : s.axes.tasks)
    for (const auto& q : s.axes.datasets) {
      if (s.axes.selects_beta()) add_beta_choice(s, task, q);
      const std::string beta = s.chosen_beta.count(task + "-" + q) ? s.chosen_beta[task + "-" + q] : "—";
      s.scores.rows.push_back({{task + "-" + q}, {}, {}});
      if (s.axes.selects_beta()) s.scores.rows.back().keys.push_back(beta);
      for (const std::string& column : s.scores.columns) s.all.rows.push_back({{task, q, column}, {}, {}});
    }
  return s;
}

// The behaviour policy's score (a single number: the dataset's measured return) and the data's
// episode ends, the no-termination copy's beside them.
void add_behaviour(Summary& s) {
  for (const auto& task : s.axes.tasks)
    for (const auto& q : s.axes.datasets) {
      const DataFacts facts = data_facts(ablation_dataset_path(s.root.string(), task, q, false), task_rates(task));
      GridTable& outcomes = s.outcomes[task];
      for (const auto& [name, rate] : facts.rates) {
        outcomes.samples[{row_index(outcomes, {q, "behavior"}), rate_title(name)}].push_back(rate);
        s.all.samples[{row_index(s.all, {task, q, "behavior"}), name}].push_back(rate);
      }
      if (std::isfinite(facts.behaviour_score)) {
        s.scores.samples[{row_index(s.scores, {task + "-" + q}), "behavior"}].push_back(facts.behaviour_score);
        s.outcomes[task].samples[{row_index(s.outcomes[task], {q, "behavior"}), "score"}].push_back(
            facts.behaviour_score);
        s.all.samples[{row_index(s.all, {task, q, "behavior"}), kScore}].push_back(facts.behaviour_score);
      }
      std::string line = "- " + task + "-" + q + ": " + (facts.episodes.empty() ? "not made yet" : facts.episodes);
      if (s.axes.any_noterm()) {
        const DataFacts copy = data_facts(ablation_dataset_path(s.root.string(), task, q, true), {});
        line += "; its no-termination copy: " + (copy.episodes.empty() ? "not made yet" : copy.episodes);
      }
      s.data_lines.push_back(line);
    }
}

std::string intro(const Summary& s, const Spec& spec) {
  const AblationConfig c = AblationConfig::from_spec(spec);
  std::string text = "From `" + (s.root / "spec.ini").string() + "`; mean ± 95% interval (Student t) over seeds " +
                     c.seeds +
                     ". Normalized score = 100 (R - R_random) / (R_expert - R_random) with the references recorded "
                     "in each dataset; behavior = the dataset's behaviour policy (its measured return, one number).";
  if (s.axes.any_noterm())
    text +=
        " \"noterm\" = the same learner and label on the dataset's no-early-termination copy (every terminal "
        "turned into a timeout: `relabel --terminals timeout`), the control where a survival instinct has "
        "nothing to act on.";
  if (s.axes.selects_beta())
    text += " ATAC's beta is chosen per dataset among " + join(s.axes.betas, ", ") +
            " by the true-reward ATAC runs on seeds " + c.beta_seeds +
            " (not reported) and kept for every label and the control of that dataset (column ATAC beta).";
  else
    text += " ATAC's beta: " + spec_number(spec.get_float("atac.beta")) + " for every dataset (atac.beta).";
  return text;
}

// Bars of the scores, then of each task's outcome rates, stacked in one SVG.
std::string chart_svg(const Summary& s) {
  BarChart scores;
  scores.title = "Normalized score by learner and reward label (mean, 95% Student-t interval over seeds)";
  scores.x_label = "task-dataset";
  scores.y_label = "normalized score";
  for (const auto& row : s.scores.rows) scores.groups.push_back(row.keys[0]);
  scores.series = s.scores.columns;
  for (const auto& [key, samples] : s.scores.samples)
    scores.samples[{s.scores.rows[key.first].keys[0], key.second}] = samples;
  scores.y_max = 100;
  std::vector<std::string> panels = {bar_chart_svg(scores)};
  for (const auto& task : s.axes.tasks) {
    const GridTable& t = s.outcomes.at(task);
    BarChart rates;
    rates.title = task + ": outcome rates per learner (mean, 95% Student-t interval over seeds)";
    rates.x_label = "dataset: learner";
    rates.y_label = "rate";
    for (const std::string& r : task_rates(task)) rates.series.push_back(rate_title(r));
    for (const auto& row : t.rows)
      if (row.keys[1] != "behavior") rates.groups.push_back(row.keys[0] + ": " + row.keys[1]);
    for (const auto& [key, samples] : t.samples)
      if (key.second != "score" && key.second != "actor KL from warm start")
        rates.samples[{t.rows[key.first].keys[0] + ": " + t.rows[key.first].keys[1], key.second}] = samples;
    rates.y_max = 1;
    panels.push_back(bar_chart_svg(rates));
  }
  // Each panel keeps its own <svg>, placed under the one before.
  static const std::regex size(R"(width='(\d+)' height='(\d+)')");
  int width = 0, height = 0;
  std::string body;
  for (const std::string& panel : panels) {
    std::smatch m;
    if (!std::regex_search(panel, m, size)) throw Error("ablation chart: a panel without its size");
    body += "<svg x='0' y='" + std::to_string(height) + "' " + panel.substr(panel.find("<svg ") + 5);
    width = std::max(width, std::stoi(m[1].str()));
    height += std::stoi(m[2].str());
  }
  return "<svg xmlns='http://www.w3.org/2000/svg' width='" + std::to_string(width) + "' height='" +
         std::to_string(height) + "'>\n<rect width='100%' height='100%' fill='white'/>\n" + body + "</svg>\n";
}

std::string markdown(const Summary& s, const Spec& spec) {
  std::ostringstream md;
  md << "# " << s.scores.heading << "\n\n" << intro(s, spec) << "\n\n" << grid_table_markdown(s.scores) << "\n";
  for (const auto& task : s.axes.tasks) {
    md << "## " << task << ": outcomes per learner and label\n\n"
       << "Each seed's rate over its " << (s.episodes.count(task) ? std::to_string(s.episodes.at(task)) : "?")
       << " evaluation episodes, then mean ± 95% interval (Student t) over seeds; the behaviour policy's rates (one "
          "number each) are those of the replay data's episodes, from its training run's metrics.csv, and not "
          "measured (—) for data a policy collected. Actor KL from warm start: the final policy's mean KL from the "
          "warm-start policy on "
          "dataset states, where the learner records it (ATAC), — elsewhere.\n\n"
       << grid_table_markdown(s.outcomes.at(task)) << "\n";
  }
  md << "## The data\n\n";
  for (const std::string& line : s.data_lines) md << line << "\n";
  if (s.axes.selects_beta()) {
    md << "\n## ATAC's beta per dataset\n\nThe candidate with the highest mean normalized score of true-reward ATAC "
          "over the selection seeds (mean ± 95% Student-t interval); a tie goes to the smaller beta.\n\n";
    for (const std::string& section : s.beta_sections) md << section << "\n";
  }
  md << (s.scores.missing.empty() ? "Every cell finished.\n"
                                  : "Missing (not finished): " + join(s.scores.missing, ", ") + "\n");
  return md.str();
}

}  // namespace

std::string summarize_ablation(const std::string& root_text) {
  const fs::path root = fs::absolute(root_text).lexically_normal();
  const std::string base = (root / "spec.ini").string();
  if (!fs::is_regular_file(base)) throw FileError(root_text + ": not an ablation folder (no spec.ini)");
  const Spec spec = Spec::load(shardlab_schema(), base, {});
  Summary s = empty_summary(spec, root);
  add_behaviour(s);
  for (const AblationCell& cell : reported_cells(s.axes)) add_cell(s, cell);
  const std::string md = markdown(s, spec);
  write_text_file((root / "ablation.md").string(), md);
  write_text_file((root / "ablation.csv").string(), grid_table_csv(s.all));
  write_text_file((root / "ablation.svg").string(), chart_svg(s));
  write_text_file((root / "cells.csv").string(), grid_cells_csv(s.cells));
  if (!s.scores.missing.empty())
    std::cerr << "ablation: " << s.scores.missing.size() << " cells not finished (listed as missing in "
              << root.string() << "/ablation.md)\n";
  std::cerr << "ablation: wrote " << root.string() << "/ablation.md, .csv, .svg, cells.csv\n";
  return md;
}

}  // namespace shardlab
