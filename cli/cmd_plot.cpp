// `shardlab plot`: training curves of one or more run folders' metrics.csv as an SVG line chart,
// one panel per column against environment steps; several runs (the seeds of a sweep) as their
// mean with a min-max band.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/metrics_csv.h"
#include "core/statistics.h"
#include "media/line_chart.h"

namespace shardlab::cli {
namespace {

struct Run {
  std::string name, path;
  MetricsTable metrics;
};

Run read_run(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) throw InputError("shardlab plot: no run folder " + dir);
  const std::string path = (std::filesystem::path(dir) / "metrics.csv").string();
  if (!std::filesystem::exists(path))
    throw InputError("shardlab plot: " + dir + " has no metrics.csv (not a run folder?)");
  return {std::filesystem::path(dir).lexically_normal().filename().string(), path, read_metrics_csv(path)};
}

bool outcome_rate(const std::string& column) {
  return column.rfind("charts/", 0) == 0 && column.size() > 5 && column.substr(column.size() - 5) == "_rate" &&
         column != "charts/learning_rate";
}

// A mean over the episodes that finished in an update (weighted by their number when smoothed).
bool episode_statistic(const std::string& column) {
  return column == "charts/episodic_return" || column == "charts/episodic_length" || outcome_rate(column);
}

// Without --columns: the episodic return and the environment's outcome rates.
std::vector<std::string> default_columns(const MetricsTable& metrics) {
  std::vector<std::string> columns;
  for (const auto& name : metrics.names)
    if (name == "charts/episodic_return" || outcome_rate(name)) columns.push_back(name);
  return columns;
}

// The axis title of a column: its name and what its numbers count.
std::string column_label(const std::string& column) {
  std::string unit;
  if (outcome_rate(column))
    unit = "fraction of episodes";
  else if (column == "charts/episodic_return")
    unit = "reward per episode";
  else if (column == "charts/episodic_length")
    unit = "steps per episode";
  else if (column == "charts/SPS")
    unit = "environment steps per second";
  else if (column == "time_s" || column.rfind("time/", 0) == 0)
    unit = "seconds";
  else if (column == "charts/episodes")
    unit = "episodes per update";
  else if (column.rfind("losses/", 0) == 0)
    unit = "loss";
  return unit.empty() ? column : column + " (" + unit + ")";
}

// One run's column, smoothed; episode statistics weighted by the episodes behind each row.
std::vector<double> smoothed(const Run& run, const std::string& column, int window) {
  const auto episodes = run.metrics.columns.find("charts/episodes");
  const bool weighted = episode_statistic(column) && episodes != run.metrics.columns.end();
  return trailing_mean(run.metrics.columns.at(column), weighted ? episodes->second : std::vector<double>(), window);
}

void add_plot_flags(po::options_description& flags) {
  flags.add_options()("help,h", "show this help")("runs", po::value<std::vector<std::string>>(),
                                                  "run folders (each with metrics.csv)")(
      "columns", po::value<std::string>(),
      "metrics.csv columns, comma-separated, one panel each (default: charts/episodic_return and the "
      "environment's charts/*_rate)")(
      "smooth", po::value<int64_t>()->default_value(10),
      "running mean over the last W updates (episode statistics weighted by charts/episodes; 1: none)")(
      "out", po::value<std::string>(), "the SVG file (required)")("force", "overwrite an existing --out file");
}

// The columns to plot (--columns, else the defaults of the first run), each present in every run.
std::vector<std::string> checked_columns(const po::variables_map& vm, const std::vector<Run>& runs) {
  const std::vector<std::string> columns =
      vm.count("columns") ? split(vm["columns"].as<std::string>(), ',') : default_columns(runs[0].metrics);
  if (columns.empty())
    throw InputError("shardlab plot: " + runs[0].path + " has neither charts/episodic_return nor a charts/*_rate " +
                     "column; choose --columns from: " + join(runs[0].metrics.names, ", "));
  for (const Run& run : runs)
    for (const auto& column : columns)
      if (!run.metrics.columns.count(column))
        throw InputError("shardlab plot: --columns " + column + ": " + run.path +
                         " has no such column; it has: " + join(run.metrics.names, ", "));
  return columns;
}

// The global_step values every run logged, and per run its row of each.
struct SharedSteps {
  std::vector<double> steps;
  std::vector<std::vector<size_t>> rows;  // per run, its row of each shared step
};

// Several runs are compared at the steps they all logged (the seeds of a sweep log the same).
SharedSteps shared_steps(const std::vector<Run>& runs, const std::vector<std::string>& names) {
  SharedSteps shared;
  shared.rows.resize(runs.size());
  for (size_t i = 0; i < runs[0].metrics.rows(); ++i) {
    const double step = runs[0].metrics.columns.at("global_step")[i];
    std::vector<size_t> found = {i};
    for (size_t r = 1; r < runs.size(); ++r) {
      const auto& other = runs[r].metrics.columns.at("global_step");
      const auto it = std::find(other.begin(), other.end(), step);
      if (it == other.end()) break;
      found.push_back(static_cast<size_t>(it - other.begin()));
    }
    if (found.size() < runs.size()) continue;
    shared.steps.push_back(step);
    for (size_t r = 0; r < runs.size(); ++r) shared.rows[r].push_back(found[r]);
  }
  if (shared.steps.empty()) throw InputError("shardlab plot: the runs " + join(names, ", ") + " share no global_step");
  return shared;
}

// One column's panel: a single run's curve, or several runs' mean with their min-max band.
LinePanel column_panel(const std::vector<Run>& runs, const std::vector<std::string>& names, const SharedSteps& shared,
                       const std::string& column, int window) {
  const std::string smoothing = window == 1 ? "" : ", running mean over " + std::to_string(window) + " updates";
  LinePanel panel;
  panel.title = column + smoothing;
  panel.x_label = "environment steps (global_step)";
  panel.y_label = column_label(column);
  LineSeries series;
  series.x = shared.steps;
  std::vector<std::vector<double>> curves;
  for (const Run& run : runs) curves.push_back(smoothed(run, column, window));
  for (size_t i = 0; i < shared.steps.size(); ++i) {
    std::vector<double> at_step;
    for (size_t r = 0; r < runs.size(); ++r) at_step.push_back(curves[r][shared.rows[r][i]]);
    const std::vector<double> finite = finite_values(at_step);
    series.y.push_back(finite_mean(at_step));
    if (runs.size() == 1) continue;
    series.band_lo.push_back(finite.empty() ? NAN : *std::min_element(finite.begin(), finite.end()));
    series.band_hi.push_back(finite.empty() ? NAN : *std::max_element(finite.begin(), finite.end()));
  }
  if (runs.size() == 1) {
    series.name = names[0];
  } else {
    series.name = "mean of " + std::to_string(runs.size()) + " runs";
    series.band_name = "min-max of " + std::to_string(runs.size()) + " runs";
  }
  panel.series.push_back(std::move(series));
  return panel;
}

}  // namespace

int cmd_plot(const std::vector<std::string>& args) {
  po::options_description flags("shardlab plot RUN_DIR [RUN_DIR ...] [--columns c1,c2] [--smooth W] --out FILE.svg");
  add_plot_flags(flags);
  po::positional_options_description positional;
  positional.add("runs", -1);
  const auto vm = parse_flags("plot", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("runs")) throw InputError("shardlab plot: name at least one run folder");
  if (!vm.count("out")) throw InputError("shardlab plot: --out FILE.svg is required");
  const int window = static_cast<int>(std::min<int64_t>(flag_at_least(vm, "smooth", 1), 1 << 20));
  const std::string out = vm["out"].as<std::string>();
  claim_outputs({out}, vm.count("force") > 0);

  std::vector<Run> runs;
  std::vector<std::string> names;
  for (const auto& dir : vm["runs"].as<std::vector<std::string>>()) {
    runs.push_back(read_run(dir));
    names.push_back(runs.back().name);
  }
  const std::vector<std::string> columns = checked_columns(vm, runs);
  const SharedSteps shared = shared_steps(runs, names);

  LineChart chart;
  chart.title = runs.size() == 1 ? "Training curves of " + names[0]
                                 : "Training curves of " + std::to_string(runs.size()) + " runs: " + join(names, ", ");
  if (chart.title.size() > 120) chart.title = chart.title.substr(0, 117) + "...";
  for (const auto& column : columns) chart.panels.push_back(column_panel(runs, names, shared, column, window));
  write_file_atomically(out, line_chart_svg(chart), vm.count("force") > 0);
  std::cout << "wrote " << out << " (" << columns.size() << " columns of " << runs.size() << " run"
            << (runs.size() == 1 ? "" : "s") << ", " << shared.steps.size() << " points each)\n";
  return 0;
}

}  // namespace shardlab::cli
