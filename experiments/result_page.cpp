#include "experiments/result_page.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/text.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::ordered_json;

// A reference {FILE:FIELD|D}: the number's key in result.json ("FILE:FIELD") and its decimals (-1: default).
struct Reference {
  std::string key;
  int decimals = -1;
};

Reference parse_reference(const std::string& placeholder) {
  Reference r{placeholder, -1};
  if (const auto bar = placeholder.find('|'); bar != std::string::npos) {
    r.key = placeholder.substr(0, bar);
    const auto d = parse_integer(placeholder.substr(bar + 1));
    r.decimals = d && *d >= 0 && *d <= 9 ? static_cast<int>(*d) : -2;
  }
  return r;
}

// The scale values of a template filled in; the number references stay for the page.
std::string with_scale(const Recipe& recipe, const std::string& text, bool smoke) {
  return fill_placeholders(
      text,
      [&](const std::string& p) {
        if (p.find(':') != std::string::npos) return "{" + p + "}";
        if (!recipe.scale.count(p)) throw InputError(recipe.path + ": {" + p + "} in '" + text + "': no [scale] value");
        return recipe.scaled(p, smoke);
      },
      recipe.path);
}

// The value of FIELD (dotted, array elements by index) in a parsed JSON file; null when absent.
const nlohmann::json* field_of(const nlohmann::json& file, const std::string& field) {
  const nlohmann::json* node = &file;
  for (const std::string& part : split(field, '.')) {
    if (node->is_object() && node->contains(part)) {
      node = &(*node)[part];
    } else if (const auto i = parse_integer(part);
               node->is_array() && i && *i >= 0 && *i < static_cast<int64_t>(node->size())) {
      node = &(*node)[static_cast<size_t>(*i)];
    } else {
      return nullptr;
    }
  }
  return node;
}

// The numbers a recipe's templates refer to, each JSON file read once.
class NumberReader {
 public:
  NumberReader(const Recipe& recipe, const std::string& dir) : recipe_(recipe), dir_(dir) {}

  // Reads the numbers `text` refers to; `where` names the template for errors.
  void collect(const std::string& text, const std::string& where) {
    for (const std::string& p : placeholders(text, recipe_.path)) {
      if (p.find(':') == std::string::npos) continue;
      const Reference ref = parse_reference(p);
      if (ref.decimals == -2)
        throw InputError(recipe_.path + ": " + where + ": {" + p + "}: expected |D with D 0 to 9");
      if (numbers.contains(ref.key)) continue;
      const std::string file = ref.key.substr(0, ref.key.find(':'));
      const std::string field = ref.key.substr(ref.key.find(':') + 1);
      const nlohmann::json& parsed = read(file, where);
      const nlohmann::json* value = field_of(parsed, field);
      // Numbers, and short texts such as the name of the layer a study found best.
      if (!value || !(value->is_number() || value->is_null() || value->is_string()))
        throw InputError(recipe_.name + ": " + where + ": " + file + " has no number or text at '" + field + "'");
      Json entry;
      entry["value"] = *value;
      if (const nlohmann::json* ci = field_of(parsed, field + "_ci95"); ci && ci->is_array() && ci->size() == 2)
        entry["ci95"] = *ci;
      numbers[ref.key] = entry;
    }
  }

  Json numbers = Json::object();

 private:
  const nlohmann::json& read(const std::string& file, const std::string& where) {
    if (const auto it = files_.find(file); it != files_.end()) return it->second;
    const std::string path = dir_ + "/" + file;
    if (!fs::is_regular_file(path))
      throw InputError(recipe_.name + ": " + where + " needs " + file + ", which its steps did not write");
    return files_[file] = nlohmann::json::parse(read_text_file(path), nullptr, false);
  }

  const Recipe& recipe_;
  std::string dir_;
  std::map<std::string, nlohmann::json> files_;
};

std::string format_number(const nlohmann::json& value, int decimals) {
  if (value.is_string()) return "`" + value.get<std::string>() + "`";
  if (!value.is_number()) return "n/a";
  const double v = value.get<double>();
  char text[64];
  if (decimals < 0 && value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (decimals < 0) decimals = std::fabs(v) >= 100 ? 1 : 3;
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// A template with its number references written out ("0.906 [0.877, 0.929]").
std::string render(const std::string& text, const Json& numbers) {
  return fill_placeholders(
      text,
      [&](const std::string& p) {
        const Reference ref = parse_reference(p);
        if (!numbers.contains(ref.key)) return "{" + p + "}";
        const Json& n = numbers[ref.key];
        std::string shown = format_number(n["value"], ref.decimals);
        if (n.contains("ci95"))
          shown +=
              " [" + format_number(n["ci95"][0], ref.decimals) + ", " + format_number(n["ci95"][1], ref.decimals) + "]";
        return shown;
      },
      "result.json");
}

std::string table_markdown(const Json& table, const Json& numbers) {
  if (table.contains("markdown")) return table["markdown"].get<std::string>();
  std::string md = "|";
  std::string rule = "|";
  for (const auto& column : table["columns"]) {
    md += " " + column.get<std::string>() + " |";
    rule += "---|";
  }
  md += "\n" + rule + "\n";
  for (const auto& row : table["rows"]) {
    md += "|";
    for (const auto& cell : row) md += " " + render(cell.get<std::string>(), numbers) + " |";
    md += "\n";
  }
  return md;
}

std::string flat_name(const std::string& file) {
  std::string name = file;
  for (char& c : name)
    if (c == '/') c = '_';
  return name;
}

// Each /proc/cpuinfo field's first value ("model name", "cpu family", "model", ...).
std::map<std::string, std::string> cpuinfo() {
  std::map<std::string, std::string> fields;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon != std::string::npos) fields.emplace(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return fields;
}

// The machine a result was measured on. Beside the CPU's name, its family and model and the kernels
// OpenBLAS chose for it: libtorch's linear layers sum in the order of those kernels, so two CPUs of
// one name can train other numbers (docs/architecture.md, "Randomness").
Json machine_facts() {
  const std::map<std::string, std::string> cpu = cpuinfo();
  const auto field = [&](const std::string& name) { return cpu.count(name) ? cpu.at(name) : std::string(); };
  Json m;
  m["cpu"] = field("model name").empty() ? "unknown CPU" : field("model name");
  m["cores"] = std::thread::hardware_concurrency();
  if (!field("cpu family").empty()) m["cpu_family"] = field("cpu family") + ", model " + field("model");
  using CoreName = char* (*)();
  if (auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    if (const char* core = f()) m["blas_kernels"] = std::string("OpenBLAS ") + core;
  return m;
}

// "AMD EPYC (CPU family 26, model 2; OpenBLAS Haswell kernels; 2 cores)": pages published before
// 2026-12-07's evening record the name and cores only.
std::string machine_line(const Json& m) {
  std::string details;
  if (m.contains("cpu_family")) details += "CPU family " + m["cpu_family"].get<std::string>() + "; ";
  if (m.contains("blas_kernels")) details += m["blas_kernels"].get<std::string>() + " kernels; ";
  return m["cpu"].get<std::string>() + " (" + details + std::to_string(m["cores"].get<int64_t>()) + " cores)";
}

// `text` with every `from` replaced by `to`.
std::string replaced(const std::string& text, const std::string& from, const std::string& to) {
  std::string out;
  size_t at = 0;
  for (size_t next; (next = text.find(from, at)) != std::string::npos; at = next + from.size())
    out += text.substr(at, next - at) + to;
  return out + text.substr(at);
}

// A command line as the page shows it: OUT as the user gave it, specs relative to the repository.
std::string shown_command(const std::vector<std::string>& argv, const RecipeOutcome& o) {
  const std::string out_abs = fs::path(o.dir).parent_path().string();
  const std::string source = std::string(SHARDLAB_SOURCE_DIR) + "/";
  std::vector<std::string> words;
  for (const std::string& word : argv) {
    words.push_back(replaced(replaced(word, out_abs, o.out), source, ""));
  }
  return join(words, " ");
}

// A block of a Markdown text that quotes a published table:
//   <!-- result RESULT TABLE -->      (its body, the table, starts after this line)
//   <!-- end result -->               (at `end`)
struct QuotedTable {
  std::string result, table;
  size_t body = 0, end = 0;
};

std::vector<QuotedTable> quoted_tables(const std::string& text) {
  static const std::string open = "<!-- result ", close = "<!-- end result -->";
  std::vector<QuotedTable> blocks;
  for (size_t begin = text.find(open); begin != std::string::npos; begin = text.find(open, begin + 1)) {
    const size_t head_end = text.find("-->\n", begin);
    const size_t end = head_end == std::string::npos ? std::string::npos : text.find(close, head_end);
    if (end == std::string::npos) break;
    const std::vector<std::string> names = words(text.substr(begin + open.size(), head_end - begin - open.size()));
    if (names.size() == 2) blocks.push_back({names[0], names[1], head_end + 4, end});
  }
  return blocks;
}

}  // namespace

Json result_json(const Recipe& recipe, const RecipeOutcome& o) {
  Json j;
  j["recipe"] = recipe.name;
  j["title"] = with_scale(recipe, recipe.title, o.smoke);
  j["scale"] = o.smoke ? "smoke" : "full";
  j["command"] = "shardlab reproduce " + recipe.name + (o.smoke ? " --smoke" : "");
  j["commit"] = o.commit;
  j["date"] = utc_timestamp();
  j["machine"] = machine_facts();
  j["wall_minutes"] = std::round(o.wall_seconds / 6.0) / 10.0;
  j["training_code"] = o.code_version;
  j["runs"] = Json::array();
  for (const auto& run : o.runs)
    j["runs"].push_back({{"name", run.name},
                         {"spec", run.spec},
                         {"set", run.overrides},
                         {"nproc", run.nproc},
                         {"folder", o.out + "/runs/" + run.key},
                         {"trained_before", run.trained_before}});
  j["commands"] = Json::array();
  for (const auto& argv : o.commands) j["commands"].push_back(shown_command(argv, o));
  NumberReader numbers(recipe, o.dir);
  j["about"] = with_scale(recipe, recipe.about, o.smoke);
  numbers.collect(j["about"], "about");
  j["tables"] = Json::array();
  for (const RecipeTable& table : recipe.tables) {
    Json t = {{"name", table.name},
              {"title", with_scale(recipe, table.title, o.smoke)},
              {"caption", with_scale(recipe, table.caption, o.smoke)},
              {"columns", table.columns},
              {"rows", Json::array()}};
    if (!table.markdown.empty()) {
      const std::string file = o.dir + "/" + table.markdown;
      if (!fs::is_regular_file(file))
        throw InputError(recipe.name + ": table " + table.name + " needs " + table.markdown +
                         ", which its steps did not write");
      // Its headings below the table's, its paths as the page's commands show them.
      std::string text;
      for (const std::string& line : split(read_text_file(file), '\n'))
        text += (line.rfind('#', 0) == 0 ? "##" : "") + line + "\n";
      t["markdown"] = replaced(text.substr(0, text.size() - 1), fs::path(o.dir).parent_path().string(), o.out);
    }
    for (const auto& row : table.rows) {
      Json cells = Json::array();
      for (const std::string& cell : row) cells.push_back(with_scale(recipe, cell, o.smoke));
      t["rows"].push_back(cells);
    }
    for (const std::string& text : {t["title"].get<std::string>(), t["caption"].get<std::string>()})
      numbers.collect(text, "table " + table.name);
    for (const auto& row : t["rows"])
      for (const auto& cell : row) numbers.collect(cell, "table " + table.name);
    j["tables"].push_back(t);
  }
  j["figures"] = Json::array();
  for (const RecipeFigure& figure : recipe.figures) {
    if (!fs::is_regular_file(o.dir + "/" + figure.file))
      throw InputError(recipe.name + ": figure " + figure.name + " needs " + figure.file +
                       ", which its steps did not write");
    const std::string caption = with_scale(recipe, figure.caption, o.smoke);
    numbers.collect(caption, "figure " + figure.name);
    j["figures"].push_back({{"name", figure.name}, {"file", figure.file}, {"caption", caption}});
  }
  j["numbers"] = numbers.numbers;
  return j;
}

std::string result_table(const Json& result, const std::string& name) {
  for (const auto& table : result["tables"])
    if (table["name"] == name) return table_markdown(table, result["numbers"]);
  throw InputError(result["recipe"].get<std::string>() + ": no table '" + name + "'");
}

std::string result_text(const Json& result, const std::string& text) { return render(text, result["numbers"]); }

std::string result_findings(const Json& r) {
  const Json& numbers = r["numbers"];
  std::ostringstream md;
  if (!r["about"].get<std::string>().empty()) md << render(r["about"], numbers) << "\n\n";
  for (const auto& table : r["tables"]) {
    md << "## " << render(table["title"], numbers) << "\n\n" << table_markdown(table, numbers) << "\n";
    if (!table["caption"].get<std::string>().empty()) md << render(table["caption"], numbers) << "\n\n";
  }
  return md.str();
}

std::string result_page(const Json& r, const std::string& figure_prefix) {
  const Json& numbers = r["numbers"];
  std::ostringstream md;
  md << "# " << render(r["title"], numbers) << "\n\n";
  md << "<!-- Written by `" << r["command"].get<std::string>()
     << "` from its result JSON; edit the recipe, not this page. -->\n\n";
  if (r["scale"] == "smoke")
    md << "**Smoke scale: these numbers show that the recipe runs, nothing more. They are not results.**\n\n";
  md << result_findings(r);
  for (const auto& figure : r["figures"]) {
    const std::string file = figure["file"];
    const std::string path = figure_prefix.empty() ? file : figure_prefix + flat_name(file);
    const std::string caption = render(figure["caption"], numbers);
    md << "![" << figure["name"].get<std::string>() << "](" << path << ")\n\n" << caption << "\n\n";
  }
  md << "## How this page was made\n\n`" << r["command"].get<std::string>() << "` on commit "
     << r["commit"].get<std::string>() << ", finished " << r["date"].get<std::string>() << " on "
     << machine_line(r["machine"]) << " after " << format_number(r["wall_minutes"], 1) << " minutes.\n\n";
  for (const auto& run : r["runs"]) {
    md << "- Trained run `" << run["name"].get<std::string>() << "`: `" << run["spec"].get<std::string>() << "`";
    for (const auto& o : run["set"]) md << " `--set " << o.get<std::string>() << "`";
    md << ", " << run["nproc"].get<int64_t>() << (run["nproc"] == 1 ? " rank" : " ranks") << ", in `"
       << run["folder"].get<std::string>() << "`"
       << (run["trained_before"].get<bool>() ? " (trained before this call: its time is not in the wall time)" : "")
       << ".\n";
  }
  md << "\nThe commands, in order (a run's `train` adds `--resume` once it has started):\n\n```sh\n";
  for (const auto& command : r["commands"]) md << command.get<std::string>() << "\n";
  md << "```\n";
  return md.str();
}

std::string with_quoted_tables(const std::string& text, const std::string& docs) {
  std::string out;
  size_t at = 0;
  for (const QuotedTable& q : quoted_tables(text)) {
    const std::string json = docs + "/" + q.result + ".json";
    out += text.substr(at, q.body - at);
    out += fs::is_regular_file(json) ? result_table(Json::parse(read_text_file(json)), q.table)
                                     : text.substr(q.body, q.end - q.body);
    at = q.end;
  }
  return out + text.substr(at);
}

std::string publish_result(const std::string& result_dir, const std::string& docs, const std::string& readme) {
  const Json r = Json::parse(read_text_file(result_dir + "/result.json"));
  const std::string name = r["recipe"];
  if (r["scale"] != "full") throw InputError(result_dir + ": a smoke result is never published");
  fs::create_directories(docs + "/" + name);
  for (const auto& figure : r["figures"]) {
    const std::string target = docs + "/" + name + "/" + flat_name(figure["file"]);
    write_text_file(target, read_text_file(result_dir + "/" + figure["file"].get<std::string>()));
  }
  write_text_file(docs + "/" + name + ".json", r.dump(2) + "\n");
  write_text_file(docs + "/" + name + ".md", result_page(r, name + "/"));
  if (!readme.empty()) {
    const std::string text = read_text_file(readme);
    if (const std::string filled = with_quoted_tables(text, docs); filled != text) write_text_file(readme, filled);
  }
  return docs + "/" + name + ".md";
}

std::vector<std::string> check_published(const std::string& docs, const std::string& readme) {
  std::vector<std::string> problems;
  if (!readme.empty()) {
    const std::string text = read_text_file(readme);
    if (with_quoted_tables(text, docs) != text)
      problems.push_back(readme + ": a quoted table differs from its result in " + docs +
                         " (edited by hand, or stale)");
    for (const QuotedTable& q : quoted_tables(text))
      if (!fs::is_regular_file(docs + "/" + q.result + ".json"))
        problems.push_back(readme + ": quotes a table of " + q.result + ", which is not published (" + docs + "/" +
                           q.result + ".json)");
  }
  if (!fs::is_directory(docs)) return problems;
  for (const auto& e : fs::directory_iterator(docs)) {
    if (e.path().extension() != ".json") continue;
    const std::string name = e.path().stem().string();
    const std::string page = docs + "/" + name + ".md";
    const Json r = Json::parse(read_text_file(e.path().string()));
    if (!fs::is_regular_file(page)) {
      problems.push_back(page + ": missing (its JSON is there)");
      continue;
    }
    if (read_text_file(page) != result_page(r, name + "/"))
      problems.push_back(page + ": differs from what " + name + ".json gives (edited by hand, or stale)");
    for (const auto& figure : r["figures"])
      if (!fs::is_regular_file(docs + "/" + name + "/" + flat_name(figure["file"])))
        problems.push_back(page + ": figure " + flat_name(figure["file"]) + " is missing");
  }
  return problems;
}

}  // namespace shardlab
