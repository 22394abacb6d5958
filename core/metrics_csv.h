// metrics.csv: one row per update, CleanRL's metric names as columns, declared up front by the
// run (step, time), the environment (its outcome rates) and the learner (its losses). Appended and flushed row
// by row, so a killed run keeps every finished row; a resumed run first drops the rows past its
// checkpoint.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

// A metrics.csv read back: its columns in header order, each as numbers (an empty or "nan" cell is
// NaN).
struct MetricsTable {
  std::vector<std::string> names;
  std::map<std::string, std::vector<double>> columns;
  size_t rows() const { return columns.empty() ? 0 : columns.begin()->second.size(); }
};

// Reads `path`. A partial last line (a run killed or still writing) is left out. FileError if it
// cannot be read; InputError naming the file for an empty file, no `global_step` column, no rows,
// a row of the wrong length or a cell that is not a number (naming its line and column).
MetricsTable read_metrics_csv(const std::string& path);

class MetricsCsv {
 public:
  // Opens `path` for appending with these columns; `global_step` must be the first. If the file
  // exists its header must match (FileError otherwise) and rows with global_step > keep_up_to
  // (and any partial last line) are dropped; keep_up_to < 0 starts a new file.
  MetricsCsv(const std::string& path, std::vector<std::string> columns, int64_t keep_up_to);
  // Missing columns are written empty; a metric that is not a declared column is an Error (a
  // learner or environment that forgot to declare it), never silently dropped.
  void write(const std::map<std::string, double>& row);

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

}  // namespace shardlab
