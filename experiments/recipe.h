// Recipes: every result shardlab publishes, as a small INI file in experiments/recipes/ that says
// how it is made (`shardlab reproduce NAME`): the trained runs it needs, the commands that measure
// it, and which of their outputs make its tables and figures. A recipe is only commands; its
// numbers come from the files those commands write, never from the recipe.
//
//   [recipe]        title, about (the page's opening sentences), minutes (an estimate at full scale)
//   [scale]         NAME = FULL | SMOKE: a value for the commands at full and at smoke scale
//   [run.NAME]      spec (relative to the repository), nproc, set (key=value words), smoke (the
//                   key=value words that make it a smoke run): a training run, reused by every
//                   recipe whose run resolves to the same spec on the same training code
//   [step.NAME]     command (shardlab's words, without "shardlab"), makes (the files it writes,
//                   relative to the recipe's folder), after (steps above it that must finish
//                   first, e.g. one that trains what it measures); steps run once their runs are
//                   trained, several at a time (reproduce --jobs) unless `after` orders them
//   [table.NAME]    title, caption, columns (separated by |), row (repeated; cells separated by |),
//                   or markdown (a Markdown table a step wrote, taken as it is)
//   [figure.NAME]   file (relative to the recipe's folder), caption
//
// In a command, {RUN} is a run's folder, {out} the recipe's folder, {repo} the repository (for its
// specs) and {NAME} a [scale] value (a
// word that is only {NAME} becomes the value's words, none when it is empty: flags for one scale). In
// a title, caption, about or table cell, {FILE:FIELD} is a number of a JSON file the steps wrote
// (FIELD a dotted path; array elements by index), shown with its 95% interval when FILE has
// FIELD_ci95, and {FILE:FIELD|D} with D decimals (a text field, such as a layer's name, is shown as
// code); {NAME} is a [scale] value.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

struct RecipeRun {
  std::string name, spec;  // spec: relative to the repository
  int64_t nproc = 1;
  std::vector<std::string> set, smoke;  // key=value overrides; smoke: added at smoke scale
};

struct RecipeStep {
  std::string name;
  std::vector<std::string> words;  // the command as written, placeholders not yet filled in
  std::vector<std::string> makes;  // relative to the recipe's folder
  std::vector<std::string> after;  // names of earlier steps that must finish before this one
};

struct RecipeTable {
  std::string name, title, caption;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // cell templates
  std::string markdown;  // instead of columns and rows: a Markdown file a step wrote (an ablation's table)
};

struct RecipeFigure {
  std::string name, file, caption;
};

struct Recipe {
  std::string name, path;  // path: the INI file
  std::string title, about;
  double minutes = 0;                                                // estimated wall time at full scale
  std::map<std::string, std::pair<std::string, std::string>> scale;  // name -> (full, smoke)
  std::vector<RecipeRun> runs;
  std::vector<RecipeStep> steps;
  std::vector<RecipeTable> tables;
  std::vector<RecipeFigure> figures;

  // The value of a [scale] entry at one scale.
  std::string scaled(const std::string& key, bool smoke) const;
};

// Reads and checks a recipe; InputError "FILE:LINE: ..." for anything malformed (unknown
// sections or keys, a placeholder no run or scale defines, a step without makes, ...).
Recipe read_recipe(const std::string& path);

// The folder of the shipped recipes (experiments/recipes) and their names, sorted.
std::string recipes_folder();
std::vector<std::string> recipe_names();
// The shipped recipe NAME; InputError listing the names when there is none.
Recipe find_recipe(const std::string& name);

// The {...} placeholders of `text` in order, without braces; InputError for an unclosed brace.
std::vector<std::string> placeholders(const std::string& text, const std::string& where);
// `text` with each placeholder replaced by `value(placeholder)`, in one pass.
std::string fill_placeholders(const std::string& text, const std::function<std::string(const std::string&)>& value,
                              const std::string& where);

}  // namespace shardlab
