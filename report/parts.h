// The pieces of `shardlab report`'s page (report/report.h): what a folder holds and how each kind
// of file is shown (tables, JSON, pictures, videos, text), the training curves of a metrics.csv and
// the spec. Used by report/report.cpp only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/metrics_csv.h"

namespace shardlab::report {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keys in the order the file has them

constexpr size_t kMaxTableRows = 100;              // of a CSV file or a list of cells
constexpr size_t kMaxJsonRows = 200;               // key/value rows of one JSON file
constexpr size_t kMaxTextLines = 200;              // of a .txt file
constexpr size_t kMaxPicturesPerFolder = 40;       // e.g. a folder of rendered frames
constexpr uintmax_t kMaxEmbedBytes = 32ull << 20;  // larger files are named, not embedded
constexpr int kMaxDepth = 4;                       // folders below DIR that are searched
constexpr size_t kSmoothRowsAtLeast = 50;          // shorter curves are drawn unsmoothed
constexpr int kSmoothWindow = 10;                  // updates in the running mean

bool regular(const fs::path& p);
bool folder(const fs::path& p);
bool is_run(const fs::path& dir);
bool is_grid(const fs::path& dir);  // a sweep's or ablation's folder (experiments/grid.h)
bool holds_results(const fs::path& dir, int depth);
std::string extension(const fs::path& p);
std::string size_text(uintmax_t bytes);
uintmax_t bytes_on_disk(const fs::path& p);
std::string number_text(double v);
std::string json_text(const json& v);
void flatten(const json& v, const std::string& prefix, std::vector<std::vector<std::string>>& rows);
std::optional<json> read_json(const fs::path& p);
bool is_eval_json(const json& j);
std::string note(const std::string& text);
std::string modified_text(const fs::path& p);
void sort_newest_first(std::vector<fs::path>& files);
bool outcome_rate(const std::string& column);
bool episode_statistic(const std::string& column);
std::string column_unit(const std::string& column);
std::string curves_html(const MetricsTable& metrics, const std::string& run_name, bool offline);
std::vector<std::pair<std::string, std::string>> spec_keys(const std::string& ini);
bool same_value(const std::string& a, const std::string& b);
std::string spec_html(const fs::path& path);
std::string picture_html(const fs::path& p, const std::string& caption);
std::string evaluations_html(std::vector<fs::path> files, const fs::path& root);
std::string json_html(const json& j);
std::string text_html(const fs::path& p);
bool skipped(const fs::path& p);
std::vector<fs::path> entries(const fs::path& dir, bool folders);
std::string files_html(const std::vector<fs::path>& files, const fs::path& root, int level);

}  // namespace shardlab::report
