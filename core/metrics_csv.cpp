#include "core/metrics_csv.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace shardlab {

MetricsCsv::MetricsCsv(const std::string& path, std::vector<std::string> columns, int64_t keep_up_to)
    : path_(path), columns_(std::move(columns)) {
  std::string header;
  for (const auto& c : columns_) header += (header.empty() ? "" : ",") + c;
  std::string kept = header + "\n";
  if (keep_up_to >= 0) {
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
      if (step <= keep_up_to) kept += row + "\n";
    }
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

}  // namespace shardlab
