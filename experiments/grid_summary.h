// The one summary writer of a grid (`sweep`, `ablate`): a table of rows (grid points; datasets)
// by columns (metrics; learners and reward labels), each entry the samples over seeds, written as
//   DIR/NAME.csv   per row: its key values, the seeds present and missing, each column's mean and
//                  95% interval half-width (ci95)
//   DIR/NAME.json  the same as JSON: {"rows": [{"keys": {key: value}, "seeds", "missing_seeds",
//                  COLUMN: mean, COLUMN_ci95: [low, high] (Student t; absent under two samples)}]}
//   DIR/NAME.md    the table, mean ± 95% interval (Student t), and the cells not finished
//   DIR/NAME.svg   a bar chart the caller lays out
//   DIR/cells.csv  one row per finished cell: its name, key values, seed and every number it has
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "media/bar_chart.h"

namespace shardlab {

struct GridTable {
  std::string heading;                 // the Markdown page's title
  std::string intro;                   // the paragraph under it: where the numbers come from
  std::vector<std::string> key_names;  // the columns that name a row
  struct Row {
    std::vector<std::string> keys;  // one value per key name
    std::vector<std::string> seeds, missing_seeds;
  };
  std::vector<Row> rows;
  std::vector<std::string> columns;                                       // the numbers of each row
  std::map<std::pair<size_t, std::string>, std::vector<double>> samples;  // (row, column) -> over seeds
  std::map<std::string, int> decimals;                                    // per column; 3 when absent
  bool seed_column = true;                                                // a "seeds" column in the Markdown
  std::string absent = "-";                                               // an entry without samples
  std::vector<std::string> missing;                                       // the cells not finished
};

// One finished cell's numbers, for cells.csv.
struct GridCellNumbers {
  std::string name;
  std::vector<std::pair<std::string, std::string>> keys;  // (key, value)
  int64_t seed = 0;
  std::map<std::string, double> numbers;
};

// The numbers of an evaluation (eval.json, or an offline run's result.json "evaluation") a grid
// summarizes: mean_return, mean_length, normalized_score and every *_rate; NaN for a null.
std::map<std::string, double> evaluation_numbers(const nlohmann::json& evaluation);

// A table entry: "mean ± 95% interval (Student t)" of the finite samples, a single one alone (it
// has no interval), `absent` when there are none.
std::string grid_entry_text(const std::vector<double>& samples, int decimals, const std::string& absent = "-");

// The table alone as Markdown lines (a header, a rule, a line per row): mean ± 95% interval
// (Student t) of each entry's samples.
std::string grid_table_markdown(const GridTable& table);
// The table as CSV: per row its keys, the seeds present and missing, each column's mean and ci95.
std::string grid_table_csv(const GridTable& table);
// The table as JSON (see NAME.json above).
nlohmann::json grid_table_json(const GridTable& table);
// cells.csv: one row per cell, its keys, seed and every number any cell has.
std::string grid_cells_csv(const std::vector<GridCellNumbers>& cells);

// Writes the four files (see above) and returns the Markdown.
std::string write_grid_summary(const std::string& dir, const std::string& name, const GridTable& table,
                               const BarChart& chart, const std::vector<GridCellNumbers>& cells);

}  // namespace shardlab
