// `sweep summarize` (experiments/sweep.h): per grid point, the mean and 95% interval over seeds of
// each finished cell's eval.json, as summary.csv, summary.md and a chart, and the cells missing.
#include "experiments/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "agents/evaluate.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "media/bar_chart.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;

// A CSV cell: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string summarize_sweep(const std::string& dir_text, const std::string& metric) {
  const SweepPlan plan = read_sweep(dir_text);
  // Grid points in the order of the first seed's cells.
  std::vector<std::string> points;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> point_values;
  std::map<std::string, std::map<std::string, std::vector<double>>> samples;  // point -> metric -> per seed
  std::map<std::string, std::vector<std::string>> seeds_done, seeds_missing;
  std::vector<std::string> missing;
  std::set<std::string> rates;
  for (const SweepCell& cell : plan.cells) {
    const std::string point = cell.point();
    if (!point_values.count(point)) points.push_back(point), point_values[point] = cell.values;
    if (!cell_finished(plan, cell)) {
      missing.push_back(cell.name);
      seeds_missing[point].push_back(std::to_string(cell.seed));
      continue;
    }
    seeds_done[point].push_back(std::to_string(cell.seed));
    for (const auto& [name, value] : eval_metrics(plan.eval_path(cell))) {
      samples[point][name].push_back(value);
      if (name != "mean_return" && name != "mean_length") rates.insert(name);
    }
  }
  std::vector<std::string> metrics = {"mean_return", "mean_length"};
  metrics.insert(metrics.end(), rates.begin(), rates.end());
  if (missing.size() < plan.cells.size() && std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
    std::string known;
    for (const auto& m : metrics) known += (known.empty() ? "" : ", ") + m;
    throw InputError("--metric " + metric + ": not in the cells' eval.json (" + known + ")");
  }
  auto joined = [](const std::vector<std::string>& v, const std::string& sep) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
    return out;
  };

  std::ostringstream csv;
  for (const GridAxis& axis : plan.grid) csv << csv_field(axis.key) << ",";
  csv << "seeds,missing_seeds";
  for (const auto& m : metrics) csv << "," << m << "," << m << "_ci95";
  csv << "\n";
  std::ostringstream md;
  md << "# Sweep summary\n\n"
     << plan.cells.size() << " cells (" << plan.dir << "/sweep.json), " << plan.cells.size() - missing.size()
     << " finished. Each cell's final eval: " << plan.episodes << " episodes, " << (plan.greedy ? "greedy" : "sampled")
     << " actions" << (plan.eval_sets.empty() ? "" : ", --set " + joined(plan.eval_sets, " "))
     << ". Mean ± 95% interval (Student t) over the finished seeds; `ci95` in summary.csv is the half-width.\n\n|";
  for (const GridAxis& axis : plan.grid) md << " " << axis.key << " |";
  md << " seeds |";
  for (const auto& m : metrics) md << " " << m << " |";
  md << "\n|";
  for (size_t i = 0; i < plan.grid.size() + 1 + metrics.size(); ++i) md << "---|";
  md << "\n";
  for (const std::string& point : points) {
    md << "|";
    for (const auto& [key, value] : point_values[point]) {
      csv << csv_field(value) << ",";
      md << " " << value << " |";
    }
    csv << csv_field(joined(seeds_done[point], " ")) << "," << csv_field(joined(seeds_missing[point], " "));
    md << " " << seeds_done[point].size()
       << (seeds_missing[point].empty() ? "" : " (" + std::to_string(seeds_missing[point].size()) + " missing)")
       << " |";
    for (const auto& m : metrics) {
      const std::vector<double>& v = samples[point][m];
      const bool any = std::isfinite(finite_mean(v));
      csv << "," << csv_number(finite_mean(v)) << "," << (any ? csv_number(t_interval95(v)) : "");
      md << " " << mean_and_interval_text(v, m == "mean_return" || m == "mean_length" ? 2 : 3) << " |";
    }
    csv << "\n";
    md << "\n";
  }
  md << "\n"
     << (missing.empty() ? "Every cell finished.\n" : "Missing (not finished): " + joined(missing, ", ") + "\n");

  // The chart: with two or more grid keys, the last one's values are the bars of each group.
  BarChart chart;
  chart.title = metric + " per grid point (mean and 95% interval over seeds)";
  chart.y_label = metric;
  if (plan.grid.size() >= 2) {
    std::vector<std::string> keys;
    for (size_t i = 0; i + 1 < plan.grid.size(); ++i) keys.push_back(plan.grid[i].key);
    chart.x_label = joined(keys, ", ");
  } else if (plan.grid.size() == 1) {
    chart.x_label = plan.grid[0].key;
  }
  for (const std::string& point : points) {
    const auto& values = point_values[point];
    std::string group = "all seeds", series = metric;
    if (values.size() == 1) group = values[0].second;
    if (values.size() >= 2) {
      std::vector<std::string> head;
      for (size_t i = 0; i + 1 < values.size(); ++i) head.push_back(values[i].second);
      group = joined(head, " ");
      series = values.back().first + "=" + values.back().second;
    }
    if (std::find(chart.groups.begin(), chart.groups.end(), group) == chart.groups.end()) chart.groups.push_back(group);
    if (std::find(chart.series.begin(), chart.series.end(), series) == chart.series.end())
      chart.series.push_back(series);
    chart.samples[{group, series}] = samples[point][metric];
  }
  write_text_file(plan.dir + "/summary.csv", csv.str());
  write_text_file(plan.dir + "/summary.md", md.str());
  write_text_file(plan.dir + "/summary.svg", bar_chart_svg(chart));
  if (!missing.empty())
    std::cerr << "sweep summarize: " << missing.size() << " of " << plan.cells.size()
              << " cells not finished (listed as missing in " << plan.dir << "/summary.md)\n";
  std::cerr << "sweep summarize: wrote " << plan.dir << "/summary.csv, summary.md, summary.svg\n";
  return md.str();
}

}  // namespace shardlab
