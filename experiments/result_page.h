// A recipe's result (experiments/recipe.h): result.json holds every number its page shows, read from
// the files its steps wrote, with how they were made (commit, date, machine, wall time, the exact
// commands); the page (Markdown) is written from result.json alone, so a published page
// (docs/results/NAME.md beside NAME.json) can be checked against its numbers at any time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/recipe.h"

namespace shardlab {

// How one call of `reproduce` went, for result.json.
struct RecipeOutcome {
  struct Run {
    std::string name, spec, key;
    std::vector<std::string> overrides;
    int64_t nproc = 1;
    bool trained_before = false;
  };
  std::string dir;  // the recipe's folder, absolute
  std::string out;  // OUT as given, for the commands as the page shows them
  bool smoke = false;
  std::string commit, code_version;
  double wall_seconds = 0;
  std::vector<Run> runs;
  std::vector<std::vector<std::string>> commands;  // the steps' command lines as run
};

// The result of a finished recipe. InputError naming the recipe, the table or figure and the file
// for a number its steps did not write (a missing file or field), or a figure file missing.
nlohmann::ordered_json result_json(const Recipe& recipe, const RecipeOutcome& outcome);

// The page of a result: its tables with their captions, its figures (at `figure_prefix` + the
// figure's file, '/' turned into '_', when not empty), then how it was made.
std::string result_page(const nlohmann::ordered_json& result, const std::string& figure_prefix);

// What a result found, as Markdown: its opening sentences, then each table with its caption (the
// page without its title, figures and how it was made; a report leads with this).
std::string result_findings(const nlohmann::ordered_json& result);
// A caption or title of a result with its numbers written out.
std::string result_text(const nlohmann::ordered_json& result, const std::string& text);

// One table of a result as Markdown (for the README's generated blocks). InputError if none is named so.
std::string result_table(const nlohmann::ordered_json& result, const std::string& table);

// A Markdown text (the README) with each block
//   <!-- result NAME TABLE -->
//   <!-- end result -->
// filled with table TABLE of DOCS/NAME.json, so a page quotes a published table without copying it
// by hand. A block whose result is not published yet stays as it is.
std::string with_quoted_tables(const std::string& text, const std::string& docs);

// Copies a full-scale result (RESULT_DIR/result.json and its figures) to DOCS/NAME.json, DOCS/NAME.md
// and DOCS/NAME/, and fills the README's blocks of it (when `readme` is not empty). InputError for a
// smoke result. Returns the page's path.
std::string publish_result(const std::string& result_dir, const std::string& docs, const std::string& readme = "");

// The differences between the published pages in DOCS and what their JSON gives (pages edited by
// hand, a figure missing), and between the README's quoted tables and their results (when `readme`
// is not empty), one line each; empty when everything matches.
std::vector<std::string> check_published(const std::string& docs, const std::string& readme = "");

}  // namespace shardlab
