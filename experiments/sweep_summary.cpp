// `sweep summarize` (experiments/sweep.h): per grid point, the mean and 95% interval over seeds of
// each finished cell's eval.json, written by the grid's summary writer (experiments/grid_summary.h).
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/text.h"
#include "experiments/grid_summary.h"
#include "experiments/sweep.h"

namespace shardlab {
namespace {

// With two or more grid keys, the last one's values are the bars of each group.
BarChart sweep_chart(const SweepPlan& plan, const GridTable& table, const std::string& metric) {
  BarChart chart;
  chart.title = metric + " per grid point (mean and 95% interval over seeds)";
  chart.y_label = metric;
  std::vector<std::string> keys;
  for (size_t i = 0; i + 1 < plan.grid.size(); ++i) keys.push_back(plan.grid[i].key);
  if (plan.grid.size() == 1) keys.push_back(plan.grid[0].key);
  chart.x_label = join(keys, ", ");
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::vector<std::string>& values = table.rows[r].keys;
    std::string group = "all seeds", series = metric;
    if (values.size() == 1) group = values[0];
    if (values.size() >= 2) {
      group = join(std::vector<std::string>(values.begin(), values.end() - 1), " ");
      series = plan.grid.back().key + "=" + values.back();
    }
    if (std::find(chart.groups.begin(), chart.groups.end(), group) == chart.groups.end()) chart.groups.push_back(group);
    if (std::find(chart.series.begin(), chart.series.end(), series) == chart.series.end())
      chart.series.push_back(series);
    const auto it = table.samples.find({r, metric});
    chart.samples[{group, series}] = it == table.samples.end() ? std::vector<double>{} : it->second;
  }
  return chart;
}

}  // namespace

std::string summarize_sweep(const std::string& dir_text, const std::string& metric) {
  const SweepPlan plan = read_sweep(dir_text);
  GridTable table;
  table.heading = "Sweep summary";
  for (const GridAxis& axis : plan.grid) table.key_names.push_back(axis.key);
  std::map<std::string, size_t> row_of;  // grid point -> row, in the order of the first seed's cells
  std::set<std::string> rates;
  std::vector<GridCellNumbers> cells;
  for (const SweepCell& cell : plan.cells) {
    const auto [it, fresh] = row_of.emplace(cell.point(), table.rows.size());
    if (fresh) {
      GridTable::Row row;
      for (const auto& [key, value] : cell.values) row.keys.push_back(value);
      table.rows.push_back(row);
    }
    GridTable::Row& row = table.rows[it->second];
    if (!cell_finished(plan, cell)) {
      table.missing.push_back(cell.name);
      row.missing_seeds.push_back(std::to_string(cell.seed));
      continue;
    }
    row.seeds.push_back(std::to_string(cell.seed));
    const std::map<std::string, double> numbers = eval_metrics(plan.eval_path(cell));
    for (const auto& [name, value] : numbers) {
      table.samples[{it->second, name}].push_back(value);
      if (name != "mean_return" && name != "mean_length") rates.insert(name);
    }
    cells.push_back({cell.name, cell.values, cell.seed, numbers});
  }
  table.columns = {"mean_return", "mean_length"};
  table.columns.insert(table.columns.end(), rates.begin(), rates.end());
  table.decimals = {{"mean_return", 2}, {"mean_length", 2}};
  const auto& columns = table.columns;
  if (table.missing.size() < plan.cells.size() && std::find(columns.begin(), columns.end(), metric) == columns.end())
    throw InputError("--metric " + metric + ": not in the cells' eval.json (" + join(columns, ", ") + ")");
  table.intro = std::to_string(plan.cells.size()) + " cells (" + plan.dir + "/sweep.json), " +
                std::to_string(plan.cells.size() - table.missing.size()) +
                " finished. Each cell's final eval: " + std::to_string(plan.episodes) + " episodes, " +
                (plan.greedy ? "greedy" : "sampled") + " actions" +
                (plan.eval_sets.empty() ? "" : ", --set " + join(plan.eval_sets, " ")) +
                ". Mean ± 95% interval (Student t) over the finished seeds; `ci95` in summary.csv is the half-width.";
  return write_grid_summary(plan.dir, "summary", table, sweep_chart(plan, table, metric), cells);
}

}  // namespace shardlab
