#include "core/metrics_csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/text.h"

namespace shardlab {

MetricsCsv::MetricsCsv(const std::string& path, std::vector<std::string> columns, int64_t keep_up_to)
    : path_(path), columns_(std::move(columns)) {
  std::string header;
  for (const auto& c : columns_) header += (header.empty() ? "" : ",") + c;
  std::string kept = header + "\n";
  int64_t last_kept = -1;
  if (keep_up_to >= 0) {
    check_regular_file(path);
    std::ifstream in(path);
    if (!in) throw FileError(path + ": cannot read metrics to resume from");
    std::string line;
    std::getline(in, line);
    if (line != header) throw FileError(path + ": header differs from this version's metrics columns");
    // Only complete lines (ending in a newline) whose step is within the checkpoint survive.
    std::stringstream rest;
    rest << in.rdbuf();
    const std::string text = rest.str();
    size_t begin = 0;
    for (size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
      const std::string row = text.substr(begin, end - begin);
      int64_t step = -1;
      try {
        step = std::stoll(row.substr(0, row.find(',')));
      } catch (const std::exception&) {
        continue;
      }
      if (step <= keep_up_to) {
        kept += row + "\n";
        last_kept = std::max(last_kept, step);
      }
    }
    // The row of an update is written before its checkpoint, so the checkpoint's step has a row.
    if (keep_up_to > 0 && last_kept < keep_up_to)
      throw FileError(path + ": its rows end at global_step " + std::to_string(last_kept) +
                      ", but the checkpoint resumed from is at step " + std::to_string(keep_up_to) +
                      ": the rows between are missing (the file was cut or edited); restore it, or start a new run");
  }
  write_file_atomically(path, kept);
  out_.open(path, std::ios::app);
  if (!out_) throw FileError(path + ": cannot append metrics");
}

void MetricsCsv::write(const std::map<std::string, double>& row) {
  for (const auto& [name, value] : row)
    if (std::find(columns_.begin(), columns_.end(), name) == columns_.end())
      throw Error(path_ + ": metric '" + name + "' is not a declared column");
  std::string line;
  char buffer[64];
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) line += ',';
    const auto it = row.find(columns_[i]);
    if (it == row.end() || std::isnan(it->second)) continue;
    std::snprintf(buffer, sizeof buffer, "%.9g", it->second);
    line += buffer;
  }
  out_ << line << '\n' << std::flush;
}

MetricsTable read_metrics_csv(const std::string& path) {
  const std::string text = read_text_file(path);
  if (text.empty()) throw InputError(path + ": empty file (no header)");
  std::vector<std::string> lines = split(text, '\n');
  lines.pop_back();  // after the last newline: empty, or a partial row
  if (lines.empty()) throw InputError(path + ": no complete header line");
  MetricsTable table;
  table.names = split(lines[0], ',');
  if (table.names[0] != "global_step")
    throw InputError(path + ": first column is '" + table.names[0] + "', expected global_step (not a metrics.csv?)");
  for (const auto& name : table.names) table.columns[name];
  for (size_t line = 1; line < lines.size(); ++line) {
    const std::vector<std::string> cells = split(lines[line], ',');
    if (cells.size() != table.names.size())
      throw InputError(path + " line " + std::to_string(line + 1) + ": " + std::to_string(cells.size()) +
                       " cells, expected " + std::to_string(table.names.size()));
    for (size_t i = 0; i < cells.size(); ++i) {
      double value = std::nan("");
      if (!cells[i].empty()) {
        char* end = nullptr;
        value = std::strtod(cells[i].c_str(), &end);
        if (end != cells[i].c_str() + cells[i].size())
          throw InputError(path + " line " + std::to_string(line + 1) + ", column " + table.names[i] + ": '" +
                           cells[i] + "' is not a number");
      }
      table.columns[table.names[i]].push_back(value);
    }
  }
  if (table.rows() == 0) throw InputError(path + ": no rows yet (header only)");
  return table;
}

}  // namespace shardlab
