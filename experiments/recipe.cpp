#include "experiments/recipe.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

// The cells of a `|`-separated line; a `|` inside {...} (a number's decimals) separates nothing.
std::vector<std::string> cells_of(const std::string& text) {
  std::vector<std::string> cells(1);
  int depth = 0;
  for (char c : text) {
    depth += c == '{' ? 1 : c == '}' ? -1 : 0;
    if (c == '|' && depth == 0)
      cells.emplace_back();
    else
      cells.back() += c;
  }
  for (std::string& cell : cells) cell = trim(cell);
  return cells;
}

// A name of a run, step, table or figure: letters, digits, '_' and '-', so that it is a folder name
// and a placeholder.
bool is_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// A relative path inside the recipe's folder.
bool is_inside(const std::string& path) {
  const fs::path p = fs::path(path).lexically_normal();
  return !path.empty() && p.is_relative() && *p.begin() != "..";
}

class RecipeReader {
 public:
  RecipeReader(Recipe& recipe) : r_(recipe) {}

  void read(const IniEntry& e) {
    where_ = r_.path + ":" + std::to_string(e.line);
    const auto dot = e.section.find('.');
    const std::string kind = e.section.substr(0, dot);
    const std::string name = dot == std::string::npos ? "" : e.section.substr(dot + 1);
    if (kind != "recipe" && kind != "scale" && !is_name(name))
      fail("[" + e.section + "]: expected [recipe], [scale], [run.NAME], [step.NAME], [table.NAME] or [figure.NAME]");
    if (kind == "recipe" && dot == std::string::npos) return read_recipe_key(e);
    if (kind == "scale" && dot == std::string::npos) return read_scale(e);
    if (kind == "run") return read_run(find_or_add(r_.runs, name), e);
    if (kind == "step") return read_step(find_or_add(r_.steps, name), e);
    if (kind == "table") return read_table(find_or_add(r_.tables, name), e);
    if (kind == "figure") return read_figure(find_or_add(r_.figures, name), e);
    fail("[" + e.section + "]: expected [recipe], [scale], [run.NAME], [step.NAME], [table.NAME] or [figure.NAME]");
  }

  [[noreturn]] void fail(const std::string& what) const { throw InputError(where_ + ": " + what); }

 private:
  template <class T>
  T& find_or_add(std::vector<T>& items, const std::string& name) {
    for (T& item : items)
      if (item.name == name) return item;
    items.push_back(T{});
    items.back().name = name;
    return items.back();
  }

  void unknown(const IniEntry& e, const std::string& keys) const {
    fail("unknown key '" + e.key + "' in [" + e.section + "] (its keys: " + keys + ")");
  }

  void read_recipe_key(const IniEntry& e) {
    if (e.key == "title") {
      r_.title = e.value;
    } else if (e.key == "about") {
      r_.about = e.value;
    } else if (e.key == "minutes") {
      const auto minutes = parse_double(e.value);
      if (!minutes || *minutes <= 0) fail("minutes: expected a positive number, found '" + shown(e.value) + "'");
      r_.minutes = *minutes;
    } else {
      unknown(e, "title, about, minutes");
    }
  }

  void read_scale(const IniEntry& e) {
    const std::vector<std::string> values = cells_of(e.value);
    if (!is_name(e.key) || values.size() != 2)
      fail("[scale] " + e.key + ": expected NAME = FULL | SMOKE (either may be empty)");
    r_.scale[e.key] = {values[0], values[1]};
  }

  void read_run(RecipeRun& run, const IniEntry& e) {
    if (e.key == "spec") {
      run.spec = e.value;
    } else if (e.key == "nproc") {
      const auto n = parse_integer(e.value);
      if (!n || *n < 1 || *n > 64) fail("nproc: expected 1 to 64, found '" + shown(e.value) + "'");
      run.nproc = *n;
    } else if (e.key == "set" || e.key == "smoke") {
      for (const std::string& word : words(e.value)) {
        if (word.find('=') == std::string::npos || word[0] == '=')
          fail(e.key + ": expected key=value words, found '" + shown(word) + "'");
        (e.key == "set" ? run.set : run.smoke).push_back(word);
      }
    } else {
      unknown(e, "spec, nproc, set, smoke");
    }
  }

  void read_step(RecipeStep& step, const IniEntry& e) {
    if (e.key == "command") {
      step.words = words(e.value);
      if (step.words.empty()) fail("command: empty");
      if (step.words[0] == "shardlab") fail("command: leave out 'shardlab' (every command is one of its own)");
    } else if (e.key == "makes") {
      for (const std::string& file : words(e.value)) {
        if (!is_inside(file)) fail("makes: '" + shown(file) + "' is not a relative path inside the recipe's folder");
        step.makes.push_back(file);
      }
    } else if (e.key == "after") {
      for (const std::string& name : words(e.value)) step.after.push_back(name);
    } else {
      unknown(e, "command, makes, after");
    }
  }

  void read_table(RecipeTable& table, const IniEntry& e) {
    if (e.key == "title") {
      table.title = e.value;
    } else if (e.key == "caption") {
      table.caption = e.value;
    } else if (e.key == "columns") {
      table.columns = cells_of(e.value);
    } else if (e.key == "markdown") {
      if (!is_inside(e.value))
        fail("markdown: '" + shown(e.value) + "' is not a relative path inside the recipe's folder");
      table.markdown = e.value;
    } else if (e.key == "row") {
      table.rows.push_back(cells_of(e.value));
      if (table.rows.back().size() != table.columns.size())
        fail("row: " + std::to_string(table.rows.back().size()) + " cells, but " +
             std::to_string(table.columns.size()) + " columns (give `columns` before the rows)");
    } else {
      unknown(e, "title, caption, columns, row, markdown");
    }
  }

  void read_figure(RecipeFigure& figure, const IniEntry& e) {
    if (e.key == "file") {
      if (!is_inside(e.value)) fail("file: '" + shown(e.value) + "' is not a relative path inside the recipe's folder");
      figure.file = e.value;
    } else if (e.key == "caption") {
      figure.caption = e.value;
    } else {
      unknown(e, "file, caption");
    }
  }

  Recipe& r_;
  std::string where_;
};

// Whole-recipe checks: what each part needs, and every placeholder defined.
void check_recipe(const Recipe& r) {
  auto fail = [&](const std::string& what) { throw InputError(r.path + ": " + what); };
  if (r.title.empty()) fail("[recipe] has no title");
  if (r.steps.empty()) fail("no [step.NAME]: a recipe measures something");
  std::set<std::string> names = {"out", "repo"};
  for (const RecipeRun& run : r.runs) {
    if (run.spec.empty()) fail("[run." + run.name + "] has no spec");
    if (!fs::is_regular_file(fs::path(SHARDLAB_SOURCE_DIR) / run.spec))
      fail("[run." + run.name + "] spec: no file " + run.spec + " in the repository");
    if (r.scale.count(run.name) || run.name == "out" || run.name == "repo")
      fail("run." + run.name + ": the name is taken");
    names.insert(run.name);
  }
  for (const auto& [key, values] : r.scale) names.insert(key);
  std::set<std::string> earlier_steps;
  for (const RecipeStep& step : r.steps) {
    for (const std::string& name : step.after)
      if (!earlier_steps.count(name)) fail("[step." + step.name + "] after: '" + shown(name) + "' is no step above it");
    earlier_steps.insert(step.name);
    if (step.words.empty()) fail("[step." + step.name + "] has no command");
    if (step.makes.empty()) fail("[step." + step.name + "] has no makes (the files that show it has run)");
    for (const std::string& word : step.words)
      for (const std::string& p : placeholders(word, r.path + ": [step." + step.name + "]"))
        if (!names.count(p))
          fail("[step." + step.name + "] {" + p + "}: no run or scale value of that name (nor {out} or {repo})");
  }
  for (const RecipeTable& table : r.tables)
    if ((table.columns.empty() || table.rows.empty()) == table.markdown.empty())
      fail("[table." + table.name + "] needs columns and rows, or markdown (one of the two)");
  for (const RecipeFigure& figure : r.figures)
    if (figure.file.empty()) fail("[figure." + figure.name + "] has no file");
}

}  // namespace

std::string Recipe::scaled(const std::string& key, bool smoke) const {
  const auto it = scale.find(key);
  if (it == scale.end()) throw InputError(path + ": no [scale] value '" + key + "'");
  return smoke ? it->second.second : it->second.first;
}

std::vector<std::string> placeholders(const std::string& text, const std::string& where) {
  std::vector<std::string> found;
  for (size_t at = text.find('{'); at != std::string::npos; at = text.find('{', at + 1)) {
    const size_t end = text.find('}', at);
    if (end == std::string::npos) throw InputError(where + ": '" + shown(text) + "' has a '{' without its '}'");
    found.push_back(text.substr(at + 1, end - at - 1));
  }
  return found;
}

std::string fill_placeholders(const std::string& text, const std::function<std::string(const std::string&)>& value,
                              const std::string& where) {
  std::string out;
  size_t at = 0;
  for (size_t open; (open = text.find('{', at)) != std::string::npos;) {
    const size_t close = text.find('}', open);
    if (close == std::string::npos) throw InputError(where + ": '" + shown(text) + "' has a '{' without its '}'");
    out += text.substr(at, open - at) + value(text.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return out + text.substr(at);
}

Recipe read_recipe(const std::string& path) {
  Recipe recipe;
  recipe.path = path;
  recipe.name = fs::path(path).stem().string();
  RecipeReader reader(recipe);
  for (const IniEntry& e : ini_entries(read_text_file(path), path)) reader.read(e);
  check_recipe(recipe);
  return recipe;
}

std::string recipes_folder() { return std::string(SHARDLAB_SOURCE_DIR) + "/experiments/recipes"; }

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(recipes_folder()))
    if (e.path().extension() == ".ini") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

Recipe find_recipe(const std::string& name) {
  const std::vector<std::string> names = recipe_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw InputError("no recipe '" + shown(name) + "' (the recipes: " + join(names, ", ") + ")");
  return read_recipe(recipes_folder() + "/" + name + ".ini");
}

}  // namespace shardlab
