#include "report/parts.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "media/bar_chart.h"
#include "media/line_chart.h"
#include "report/html.h"

namespace shardlab::report {

bool regular(const fs::path& p) {
  std::error_code error;
  return fs::is_regular_file(p, error);
}
bool folder(const fs::path& p) {
  std::error_code error;
  return fs::is_directory(p, error) && !fs::is_symlink(p, error);
}

bool is_run(const fs::path& dir) {
  return regular(dir / "spec.ini") && (regular(dir / "metrics.csv") || regular(dir / "run.json"));
}
bool is_grid(const fs::path& dir) { return regular(dir / "grid.json"); }

// Whether `dir` or a folder below it (to kMaxDepth) is something a report is about.
bool holds_results(const fs::path& dir, int depth) {
  if (is_run(dir) || is_grid(dir)) return true;
  if (depth >= kMaxDepth) return false;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (folder(entry.path()) && holds_results(entry.path(), depth + 1)) return true;
  return false;
}

std::string extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

std::string size_text(uintmax_t bytes) {
  char buffer[32];
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < (1u << 20))
    std::snprintf(buffer, sizeof buffer, "%.1f KB", bytes / 1024.0);
  else
    std::snprintf(buffer, sizeof buffer, "%.1f MB", bytes / 1048576.0);
  return buffer;
}

uintmax_t bytes_on_disk(const fs::path& p) {
  std::error_code error;
  const uintmax_t size = fs::file_size(p, error);
  return error ? 0 : size;
}

std::string number_text(double v) {
  if (!std::isfinite(v)) return "-";
  if (v == std::round(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}

std::string json_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number()) return number_text(v.get<double>());
  if (v.is_array()) {
    const bool scalars = std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_primitive(); });
    if (scalars) {
      std::string out = "[";
      size_t shown = 0;
      for (const auto& x : v) {
        if (shown == 12) {
          out += ", ... (" + std::to_string(v.size()) + " in all)";
          break;
        }
        out += (shown++ ? ", " : "") + json_text(x);
      }
      return out + "]";
    }
  }
  return v.dump();
}

// Nested objects (and arrays of objects) as dotted keys.
void flatten(const json& v, const std::string& prefix, std::vector<std::vector<std::string>>& rows) {
  const bool nested_array =
      v.is_array() && !v.empty() && std::any_of(v.begin(), v.end(), [](const json& x) { return x.is_structured(); });
  if (v.is_object()) {
    for (const auto& [key, value] : v.items()) flatten(value, prefix.empty() ? key : prefix + "." + key, rows);
  } else if (nested_array) {
    for (size_t i = 0; i < v.size(); ++i) flatten(v[i], prefix + "[" + std::to_string(i) + "]", rows);
  } else {
    rows.push_back({prefix, json_text(v)});
  }
}

// A file's JSON, or nothing when it is not readable JSON.
std::optional<json> read_json(const fs::path& p) {
  try {
    json j = json::parse(read_text_file(p.string()), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  } catch (const Error&) {
    return std::nullopt;
  }
}

// What `shardlab eval` writes (agents/evaluate.cpp): episodes, mean return, rates with intervals.
bool is_eval_json(const json& j) { return j.is_object() && j.contains("episodes") && j.contains("mean_return"); }

std::string note(const std::string& text) { return "<p class='note'>" + html::escaped(text) + "</p>\n"; }

std::string modified_text(const fs::path& p) {
  std::error_code error;
  const auto when = fs::last_write_time(p, error);
  if (error) return "";
  const auto since = when - fs::file_time_type::clock::now() + std::chrono::system_clock::now();
  const std::time_t t =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::system_clock::duration>(since));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

// The newest first.
void sort_newest_first(std::vector<fs::path>& files) {
  auto when = [](const fs::path& p) {
    std::error_code error;
    return fs::last_write_time(p, error);
  };
  std::stable_sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) { return when(a) > when(b); });
}

// ---- metrics.csv curves

bool outcome_rate(const std::string& column) {
  return column.rfind("charts/", 0) == 0 && column.size() > 5 && column.substr(column.size() - 5) == "_rate" &&
         column != "charts/learning_rate";
}
bool episode_statistic(const std::string& column) {
  return column == "charts/episodic_return" || column == "charts/episodic_length" ||
         column == "charts/normalized_score" || outcome_rate(column);
}

std::string column_unit(const std::string& column) {
  if (outcome_rate(column)) return "fraction of episodes";
  if (column == "charts/episodic_return") return "reward per episode";
  if (column == "charts/episodic_length") return "steps per episode";
  if (column == "charts/normalized_score") return "0 random, 100 expert";
  if (column == "charts/SPS") return "steps per second";
  if (column.rfind("losses/", 0) == 0) return "loss";
  return "";
}

// The charts of a run: outcomes, losses and the rest, each a panel per column that has numbers.
struct ChartGroup {
  std::string title;
  std::vector<std::string> columns;
};

std::vector<ChartGroup> chart_groups(const MetricsTable& metrics) {
  ChartGroup outcomes{"Returns and outcomes", {}}, losses{"Losses", {}}, other{"Episode length, speed, schedule", {}};
  for (const std::string& name : metrics.names) {
    if (name == "global_step" || name == "update" || name == "time_s" || name == "charts/episodes" ||
        name.rfind("time/", 0) == 0)
      continue;
    if (name == "charts/episodic_return" || name == "charts/normalized_score" || outcome_rate(name))
      outcomes.columns.push_back(name);
    else if (name.rfind("losses/", 0) == 0)
      losses.columns.push_back(name);
    else
      other.columns.push_back(name);
  }
  std::vector<ChartGroup> groups;
  for (ChartGroup* g : {&outcomes, &losses, &other})
    if (!g->columns.empty()) groups.push_back(*g);
  return groups;
}

std::string curves_html(const MetricsTable& metrics, const std::string& run_name, bool offline) {
  const std::vector<double>& steps = metrics.columns.at("global_step");
  const auto episodes = metrics.columns.find("charts/episodes");
  std::string out;
  for (const ChartGroup& group : chart_groups(metrics)) {
    LineChart chart;
    chart.title = group.title + " of " + run_name;
    for (const std::string& column : group.columns) {
      const std::vector<double>& values = metrics.columns.at(column);
      const size_t finite =
          static_cast<size_t>(std::count_if(values.begin(), values.end(), [](double v) { return std::isfinite(v); }));
      if (finite == 0) continue;
      // Sparse columns (an offline run's evaluations) are drawn as they are, point to point.
      const bool smooth = metrics.rows() >= kSmoothRowsAtLeast && finite * 2 >= metrics.rows();
      const bool weighted = episode_statistic(column) && episodes != metrics.columns.end();
      const std::vector<double> y =
          smooth ? trailing_mean(values, weighted ? episodes->second : std::vector<double>(), kSmoothWindow) : values;
      LineSeries series;
      series.name = run_name;
      for (size_t i = 0; i < y.size(); ++i)
        if (std::isfinite(y[i]) && std::isfinite(steps[i])) {
          series.x.push_back(steps[i]);
          series.y.push_back(y[i]);
        }
      if (series.x.empty()) continue;
      LinePanel panel;
      panel.title = column + (smooth ? ", running mean over " + std::to_string(kSmoothWindow) + " updates" : "");
      panel.x_label = offline ? "gradient steps (global_step)" : "environment steps (global_step)";
      const std::string unit = column_unit(column);
      panel.y_label = unit.empty() ? column : column + " (" + unit + ")";
      panel.series.push_back(std::move(series));
      chart.panels.push_back(std::move(panel));
    }
    if (chart.panels.empty()) continue;
    out += "<figure class='chart'>" + html::inline_svg(line_chart_svg(chart)) + "<figcaption>" +
           html::escaped(chart.title) + " (metrics.csv, " + std::to_string(metrics.rows()) +
           " rows)</figcaption></figure>\n";
  }
  return out;
}

// ---- the spec

std::vector<std::pair<std::string, std::string>> spec_keys(const std::string& ini) {
  std::vector<std::pair<std::string, std::string>> keys;
  std::string section;
  std::istringstream in(ini);
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find_first_not_of(" \t");
    if (a == std::string::npos || line[a] == '#' || line[a] == ';') continue;
    if (line[a] == '[') {
      section = line.substr(a + 1, line.find(']') - a - 1);
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto trim = [](std::string s) {
      const size_t b = s.find_first_not_of(" \t\r");
      return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
    };
    keys.emplace_back((section.empty() ? "" : section + ".") + trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
  }
  return keys;
}

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char* end_a = nullptr;
  char* end_b = nullptr;
  const double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
  return !a.empty() && !b.empty() && *end_a == '\0' && *end_b == '\0' && x == y;
}

// The keys that differ from the schema's defaults as a table, then the whole file folded away.
std::string spec_html(const fs::path& path) {
  const std::string ini = read_text_file(path.string());
  const auto keys = spec_keys(ini);
  std::vector<std::vector<std::string>> changed;
  for (const auto& [key, value] : keys) {
    const KeyInfo* info = shardlab_schema().find(key);
    if (!info)
      changed.push_back({key, value, "(not a key of this shardlab)"});
    else if (!same_value(value, info->default_value))
      changed.push_back({key, value, info->default_value});
  }
  std::string out = note("The keys whose value differs from shardlab's default (" + std::to_string(changed.size()) +
                         " of " + std::to_string(keys.size()) + "):");
  out += html::table({"key", "value", "default"}, changed);
  out += "<details><summary>The whole resolved spec (" + html::escaped(path.filename().string()) + ", " +
         std::to_string(keys.size()) + " keys)</summary>\n<pre>" + html::escaped(ini) + "</pre></details>\n";
  return out;
}

// ---- files as HTML

std::string picture_html(const fs::path& p, const std::string& caption) {
  const uintmax_t size = bytes_on_disk(p);
  if (size > kMaxEmbedBytes) return note(caption + " (" + size_text(size) + "): too large to embed; open the file.");
  const std::string mime = html::media_type(p.filename().string());
  const std::string uri = html::data_uri(mime, read_text_file(p.string()));
  const std::string alt = html::escaped(p.filename().string());
  std::string media;
  if (mime.rfind("video/", 0) == 0)
    media = "<video controls muted loop preload='metadata' src='" + uri + "' title='" + alt + "'></video>";
  else
    media = "<img src='" + uri + "' alt='" + alt + "'>";
  return "<figure>" + media + "<figcaption>" + html::escaped(caption) + "</figcaption></figure>\n";
}

// Every evaluation side by side, the newest first: one column per file, one row per number (rates
// with their 95% interval), then where it came from.
std::string evaluations_html(std::vector<fs::path> files, const fs::path& root) {
  sort_newest_first(files);
  std::vector<std::string> header = {""}, keys;
  std::vector<std::map<std::string, std::string>> columns;
  for (const fs::path& p : files) {
    const auto j = read_json(p);
    if (!j) continue;
    std::map<std::string, std::string> column;
    header.push_back(fs::relative(p, root).string() + (columns.empty() && files.size() > 1 ? " (latest)" : ""));
    for (const auto& [key, value] : j->items()) {
      if (key.size() > 5 && ends_with(key, "_ci95")) continue;
      std::string text = json_text(value);
      const auto ci = j->find(key + "_ci95");
      if (ci != j->end() && ci->is_array() && ci->size() == 2)
        text += " [" + json_text((*ci)[0]) + ", " + json_text((*ci)[1]) + "]";
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
      column[key] = text;
    }
    column["written"] = modified_text(p);
    columns.push_back(std::move(column));
  }
  keys.push_back("written");
  std::vector<std::vector<std::string>> rows;
  for (const auto& key : keys) {
    std::vector<std::string> row = {key};
    for (auto& column : columns) row.push_back(column.count(key) ? column[key] : "");
    rows.push_back(std::move(row));
  }
  return html::table(header, rows, false) + note("Rates with their 95% interval in brackets.");
}

std::string json_html(const json& j) {
  std::vector<std::vector<std::string>> rows;
  flatten(j, "", rows);
  const size_t total = rows.size();
  if (rows.size() > kMaxJsonRows) rows.resize(kMaxJsonRows);
  std::string out = html::table({"key", "value"}, rows, false);
  if (total > kMaxJsonRows)
    out += note("The first " + std::to_string(kMaxJsonRows) + " of " + std::to_string(total) + " values.");
  return out;
}

std::string text_html(const fs::path& p) {
  std::istringstream in(read_text_file(p.string()));
  std::string shown;
  size_t lines = 0;
  for (std::string line; std::getline(in, line); ++lines)
    if (lines < kMaxTextLines) shown += line + "\n";
  std::string out = "<pre>" + html::escaped(shown) + "</pre>\n";
  if (lines > kMaxTextLines)
    out += note("The first " + std::to_string(kMaxTextLines) + " of " + std::to_string(lines) + " lines.");
  return out;
}

bool skipped(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.' || name.find(".tmp.") != std::string::npos || extension(p) == ".html";
}

std::vector<fs::path> entries(const fs::path& dir, bool folders) {
  std::vector<fs::path> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (skipped(entry.path())) continue;
    if (folders ? folder(entry.path()) : regular(entry.path())) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every result file of one folder, embedded: evaluations first, then pictures and videos,
// Markdown, JSON, CSV and text; other files (data, checkpoints, logs) only named.
std::string files_html(const std::vector<fs::path>& files, const fs::path& root, int level) {
  std::vector<fs::path> evals, media, markdown, jsons, csvs, texts, others;
  std::map<fs::path, json> parsed;
  for (const fs::path& p : files) {
    const std::string ext = extension(p);
    if (ext == ".json") {
      auto j = bytes_on_disk(p) <= kMaxEmbedBytes ? read_json(p) : std::nullopt;
      if (j && is_eval_json(*j)) {
        evals.push_back(p);
      } else if (j) {
        parsed[p] = std::move(*j);
        jsons.push_back(p);
      } else {
        others.push_back(p);
      }
    } else if (!html::media_type(p.filename().string()).empty()) {
      media.push_back(p);
    } else if (ext == ".md") {
      markdown.push_back(p);
    } else if (ext == ".csv") {
      csvs.push_back(p);
    } else if (ext == ".txt") {
      texts.push_back(p);
    } else {
      others.push_back(p);
    }
  }
  const std::string h = "h" + std::to_string(std::min(level + 1, 6));
  auto heading = [&](const fs::path& p) {
    return "<" + h + ">" + html::escaped(p.filename().string()) + "</" + h + ">\n";
  };
  std::string out;
  if (!evals.empty()) out += "<" + h + ">Evaluations</" + h + ">\n" + evaluations_html(evals, root);
  for (size_t i = 0; i < media.size(); ++i) {
    if (i == kMaxPicturesPerFolder) {
      out += note("And " + std::to_string(media.size() - i) + " more pictures or videos in this folder, not embedded.");
      break;
    }
    out +=
        picture_html(media[i], fs::relative(media[i], root).string() + " (" + size_text(bytes_on_disk(media[i])) + ")");
  }
  for (const fs::path& p : markdown)
    out += heading(p) + (bytes_on_disk(p) > kMaxEmbedBytes ? note("too large to embed")
                                                           : html::markdown(read_text_file(p.string()), level + 1));
  for (const fs::path& p : jsons) out += heading(p) + json_html(parsed[p]);
  for (const fs::path& p : csvs)
    out += heading(p) + (bytes_on_disk(p) > kMaxEmbedBytes
                             ? note("too large to embed ( " + size_text(bytes_on_disk(p)) + ")")
                             : html::csv_table(read_text_file(p.string()), kMaxTableRows));
  for (const fs::path& p : texts) out += heading(p) + text_html(p);
  if (!others.empty()) {
    std::string names;
    for (const fs::path& p : others)
      names += (names.empty() ? "" : ", ") + p.filename().string() + " (" + size_text(bytes_on_disk(p)) + ")";
    out += note("Not embedded: " + names + ".");
  }
  return out;
}

}  // namespace shardlab::report
