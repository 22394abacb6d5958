#include "experiments/grid_summary.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/statistics.h"
#include "core/text.h"

namespace shardlab {
namespace {

// A CSV cell: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// An entry's samples over seeds (none when the table has no samples there).
std::vector<double> samples_of(const GridTable& table, size_t row, const std::string& column) {
  const auto it = table.samples.find({row, column});
  return it == table.samples.end() ? std::vector<double>{} : it->second;
}

}  // namespace

std::string grid_entry_text(const std::vector<double>& samples, int decimals, const std::string& absent) {
  std::vector<double> finite;
  for (double v : samples)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) return absent;
  if (finite.size() > 1) return mean_and_interval_text(finite, decimals);
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, finite[0]);
  return b;
}

std::string grid_table_csv(const GridTable& table) {
  std::ostringstream csv;
  for (const std::string& key : table.key_names) csv << csv_field(key) << ",";
  csv << "seeds,missing_seeds";
  for (const std::string& c : table.columns) csv << "," << csv_field(c) << "," << csv_field(c + "_ci95");
  csv << "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const GridTable::Row& row = table.rows[r];
    for (const std::string& key : row.keys) csv << csv_field(key) << ",";
    csv << csv_field(join(row.seeds, " ")) << "," << csv_field(join(row.missing_seeds, " "));
    for (const std::string& c : table.columns) {
      const std::vector<double> v = samples_of(table, r, c);
      csv << "," << csv_number(finite_mean(v)) << ","
          << (std::isfinite(finite_mean(v)) ? csv_number(t_interval95(v)) : "");
    }
    csv << "\n";
  }
  return csv.str();
}

nlohmann::json grid_table_json(const GridTable& table) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const GridTable::Row& row = table.rows[r];
    nlohmann::json j;
    j["keys"] = nlohmann::json::object();
    for (size_t k = 0; k < table.key_names.size() && k < row.keys.size(); ++k)
      j["keys"][table.key_names[k]] = row.keys[k];
    j["seeds"] = row.seeds;
    j["missing_seeds"] = row.missing_seeds;
    for (const std::string& c : table.columns) {
      const std::vector<double> v = samples_of(table, r, c);
      const double mean = finite_mean(v);
      j[c] = std::isfinite(mean) ? nlohmann::json(mean) : nlohmann::json();
      const double half = std::isfinite(mean) ? t_interval95(v) : std::nan("");
      if (std::isfinite(half)) j[c + "_ci95"] = {mean - half, mean + half};
    }
    rows.push_back(std::move(j));
  }
  return {{"rows", rows}};
}

std::string grid_table_markdown(const GridTable& table) {
  std::ostringstream md;
  md << "|";
  for (const std::string& key : table.key_names) md << " " << key << " |";
  if (table.seed_column) md << " seeds |";
  for (const std::string& c : table.columns) md << " " << c << " |";
  md << "\n|";
  for (size_t i = 0; i < table.key_names.size() + (table.seed_column ? 1 : 0) + table.columns.size(); ++i) md << "---|";
  md << "\n";
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const GridTable::Row& row = table.rows[r];
    md << "|";
    for (const std::string& key : row.keys) md << " " << key << " |";
    if (table.seed_column)
      md << " " << row.seeds.size()
         << (row.missing_seeds.empty() ? "" : " (" + std::to_string(row.missing_seeds.size()) + " missing)") << " |";
    for (const std::string& c : table.columns) {
      const auto digits = table.decimals.find(c);
      md << " "
         << grid_entry_text(samples_of(table, r, c), digits == table.decimals.end() ? 3 : digits->second, table.absent)
         << " |";
    }
    md << "\n";
  }
  return md.str();
}

namespace {

std::string summary_markdown(const GridTable& table) {
  return "# " + table.heading + "\n\n" + table.intro + "\n\n" + grid_table_markdown(table) + "\n" +
         (table.missing.empty() ? "Every cell finished.\n"
                                : "Missing (not finished): " + join(table.missing, ", ") + "\n");
}

}  // namespace

std::string grid_cells_csv(const std::vector<GridCellNumbers>& cells) {
  std::vector<std::string> keys, numbers;
  std::set<std::string> seen_keys, seen_numbers;
  for (const GridCellNumbers& cell : cells) {
    for (const auto& [key, value] : cell.keys)
      if (seen_keys.insert(key).second) keys.push_back(key);
    for (const auto& [name, value] : cell.numbers)
      if (seen_numbers.insert(name).second) numbers.push_back(name);
  }
  std::ostringstream csv;
  csv << "cell";
  for (const std::string& key : keys) csv << "," << csv_field(key);
  csv << ",seed";
  for (const std::string& n : numbers) csv << "," << csv_field(n);
  csv << "\n";
  for (const GridCellNumbers& cell : cells) {
    csv << csv_field(cell.name);
    for (const std::string& key : keys) {
      std::string value;
      for (const auto& [k, v] : cell.keys)
        if (k == key) value = v;
      csv << "," << csv_field(value);
    }
    csv << "," << cell.seed;
    for (const std::string& n : numbers) {
      const auto it = cell.numbers.find(n);
      csv << "," << (it == cell.numbers.end() ? "" : csv_number(it->second));
    }
    csv << "\n";
  }
  return csv.str();
}

std::map<std::string, double> evaluation_numbers(const nlohmann::json& evaluation) {
  std::map<std::string, double> out;
  if (!evaluation.is_object()) return out;
  for (const auto& [key, value] : evaluation.items()) {
    const bool wanted = key == "mean_return" || key == "mean_length" || key == "normalized_score" ||
                        (key.size() > 5 && ends_with(key, "_rate"));
    if (wanted) out[key] = value.is_number() ? value.get<double>() : std::nan("");
  }
  return out;
}

std::string write_grid_summary(const std::string& dir, const std::string& name, const GridTable& table,
                               const BarChart& chart, const std::vector<GridCellNumbers>& cells) {
  const std::string md = summary_markdown(table);
  write_text_file(dir + "/" + name + ".csv", grid_table_csv(table));
  write_text_file(dir + "/" + name + ".json", grid_table_json(table).dump(1) + "\n");
  write_text_file(dir + "/" + name + ".md", md);
  write_text_file(dir + "/" + name + ".svg", bar_chart_svg(chart));
  write_text_file(dir + "/cells.csv", grid_cells_csv(cells));
  if (!table.missing.empty())
    std::cerr << name << ": " << table.missing.size() << " cells not finished (listed as missing in " << dir << "/"
              << name << ".md)\n";
  std::cerr << name << ": wrote " << dir << "/" << name << ".csv, " << name << ".json, " << name << ".md, " << name
            << ".svg, cells.csv\n";
  return md;
}

}  // namespace shardlab
