#include "core/spec.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace po = boost::program_options;

namespace shardlab {
namespace {

const char* type_name(KeyType type) {
  switch (type) {
    case KeyType::kInt:
      return "an integer";
    case KeyType::kFloat:
      return "a number";
    case KeyType::kBool:
      return "true or false";
    case KeyType::kString:
      return "text";
  }
  return "";
}

// Checks `value` against the key's type, choices and check; throws InputError.
void validate(const KeyInfo& key, const std::string& value, const std::string& where) {
  auto fail = [&](const std::string& expected) {
    throw InputError(where + ": " + key.name + " = '" + shown(value) + "': expected " + expected);
  };
  // A spec file could not hold it: '#' starts a comment there, and a value is one line.
  if (value.find_first_of("#\r\n") != std::string::npos) fail("a value without '#' or line breaks");
  size_t used = 0;
  try {
    switch (key.type) {
      case KeyType::kInt:
        std::stoll(value, &used);
        if (used != value.size()) used = 0;
        break;
      case KeyType::kFloat: {
        const double v = std::stod(value, &used);
        if (used != value.size() || !std::isfinite(v)) used = 0;
        break;
      }
      case KeyType::kBool:
        used = (value == "true" || value == "false") ? value.size() : 0;
        break;
      case KeyType::kString:
        used = value.size();
        break;
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 && !(key.type == KeyType::kString && value.empty()))
    fail(key.type == KeyType::kFloat ? "a finite number" : type_name(key.type));
  if (key.type == KeyType::kInt || key.type == KeyType::kFloat) {
    const double v = std::stod(value);
    if (key.min_exclusive ? v <= key.min : v < key.min)
      fail(std::string(key.min_exclusive ? "a number above " : "at least ") + spec_number(key.min));
    if (v > key.max) fail("at most " + spec_number(key.max));
  }
  if (!key.choices.empty()) {
    bool found = false;
    std::string list;
    for (const auto& c : key.choices) {
      found = found || c == value;
      list += (list.empty() ? "" : ", ") + c;
    }
    if (!found) fail("one of " + list);
  }
  if (key.check) {
    try {
      key.check(value);
    } catch (const InputError& e) {
      throw InputError(where + ": " + key.name + ": " + e.what());
    }
  }
}

// The entries of an INI file in order; stops at the first line that is neither blank, a comment,
// `[section]` nor `key = value`, and gives its number in `bad_line` (0 when there is none).
std::vector<IniEntry> scan_ini(const std::string& text, int* bad_line) {
  std::vector<IniEntry> entries;
  std::istringstream in(text);
  std::string line, section;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      if (bad_line) *bad_line = number;
      break;
    }
    entries.push_back({section, trim(t.substr(0, eq)), trim(t.substr(eq + 1)), number});
  }
  return entries;
}

// Maps each dotted key of an INI file to its line number, for error messages.
std::map<std::string, int> key_lines(const std::string& text) {
  std::map<std::string, int> lines;
  for (const IniEntry& e : scan_ini(text, nullptr))
    lines.emplace(e.section.empty() ? e.key : e.section + "." + e.key, e.line);
  return lines;
}

// The first line of an INI file that is neither blank, a comment, a section nor key = value.
int first_malformed_line(const std::string& text) {
  int bad_line = 0;
  scan_ini(text, &bad_line);
  return bad_line;
}

}  // namespace

std::vector<IniEntry> ini_entries(const std::string& text, const std::string& name) {
  int bad_line = 0;
  std::vector<IniEntry> entries = scan_ini(text, &bad_line);
  if (bad_line) throw InputError(name + ":" + std::to_string(bad_line) + ": expected `[section]` or `key = value`");
  return entries;
}

KeyInfo& SpecSchema::add(const std::string& name, KeyType type, const std::string& default_value,
                         const std::string& help) {
  if (keys_.count(name)) throw Error("spec key '" + name + "' declared twice");
  KeyInfo& key = keys_[name];
  key.name = name;
  key.type = type;
  key.default_value = default_value;
  key.help = help;
  return key;
}

std::string spec_number(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

KeyInfo& SpecSchema::add_int(const std::string& name, int64_t default_value, const std::string& help) {
  return add(name, KeyType::kInt, std::to_string(default_value), help);
}

KeyInfo& SpecSchema::add_float(const std::string& name, double default_value, const std::string& help) {
  return add(name, KeyType::kFloat, spec_number(default_value), help);
}

KeyInfo& SpecSchema::add_bool(const std::string& name, bool default_value, const std::string& help) {
  return add(name, KeyType::kBool, default_value ? "true" : "false", help);
}

KeyInfo& SpecSchema::add_string(const std::string& name, const std::string& default_value, const std::string& help,
                                std::vector<std::string> choices) {
  KeyInfo& key = add(name, KeyType::kString, default_value, help);
  key.choices = std::move(choices);
  return key;
}

const KeyInfo* SpecSchema::find(const std::string& name) const {
  const auto it = keys_.find(name);
  return it == keys_.end() ? nullptr : &it->second;
}

std::string SpecSchema::describe() const {
  std::ostringstream out;
  std::string section;
  for (const auto& [name, key] : keys_) {
    const std::string s = name.substr(0, name.find('.'));
    if (s != section) {
      out << (section.empty() ? "" : "\n") << "[" << s << "]\n";
      section = s;
    }
    const std::string kind = type_name(key.type);
    out << "  " << name << " (" << (kind.rfind("a", 0) == 0 ? kind.substr(kind.find(' ') + 1) : kind);
    if (!key.choices.empty()) {
      out << ": ";
      for (size_t i = 0; i < key.choices.size(); ++i) out << (i ? "|" : "") << key.choices[i];
    }
    out << ", default " << (key.default_value.empty() ? "''" : key.default_value) << ")\n      " << key.help << "\n";
  }
  return out.str();
}

Spec::Spec(const SpecSchema& schema) : schema_(&schema) {
  for (const auto& [name, key] : schema.keys()) {
    values_[name] = key.default_value;
    sources_[name] = "default";
  }
}

void Spec::set(const std::string& name, const std::string& value, const std::string& where) {
  const KeyInfo* key = schema_->find(name);
  if (!key) throw InputError(where + ": unknown key '" + name + "' (`shardlab spec keys` lists them)");
  validate(*key, value, where);
  values_[name] = value;
  sources_[name] = where;
}

Spec Spec::load(const SpecSchema& schema, const std::string& path, const std::vector<std::string>& overrides) {
  std::string text;
  if (!path.empty()) {
    if (std::filesystem::is_directory(path)) throw InputError(path + ": is a folder, not a spec file");
    try {
      check_regular_file(path);
    } catch (const FileError& e) {
      throw InputError(std::string(e.what()) + " (a spec is a text file)");
    }
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open spec file");
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  return from_text(schema, text, path, overrides);
}

Spec Spec::from_text(const SpecSchema& schema, const std::string& text, const std::string& name,
                     const std::vector<std::string>& overrides) {
  Spec spec(schema);
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    throw InputError(name + ":" + std::to_string(1 + std::count(text.begin(), text.begin() + nul, '\n')) +
                     ": holds a NUL byte (a spec is a text file)");
  if (!text.empty()) {
    std::istringstream in(text);
    po::options_description description;
    for (const auto& [key, info] : schema.keys()) description.add_options()(key.c_str(), po::value<std::string>());
    po::parsed_options parsed(&description);
    const auto lines = key_lines(text);
    auto where = [&](const std::string& key) {
      const auto it = lines.find(key);
      return it == lines.end() ? name : name + ":" + std::to_string(it->second);
    };
    try {
      parsed = po::parse_config_file(in, description, /*allow_unregistered=*/false);
    } catch (const po::unknown_option& e) {
      throw InputError(where(e.get_option_name()) + ": unknown key '" + e.get_option_name() +
                       "' (`shardlab spec keys` lists them)");
    } catch (const po::error& e) {
      const int line = first_malformed_line(text);
      throw InputError(name + (line ? ":" + std::to_string(line) : "") + ": " + e.what() +
                       " (expected `[section]` or `key = value`)");
    }
    std::set<std::string> seen;
    for (const auto& option : parsed.options) {
      if (!seen.insert(option.string_key).second)
        throw InputError(where(option.string_key) + ": key '" + option.string_key + "' given more than once");
      if (option.value.size() != 1)
        throw InputError(where(option.string_key) + ": key '" + option.string_key + "' has no value");
      spec.set(option.string_key, trim(option.value[0]), where(option.string_key));
    }
  }
  for (const auto& item : overrides) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError("--set '" + shown(item) + "': expected key=value, e.g. --set env.num_envs=128");
    spec.set(trim(item.substr(0, eq)), trim(item.substr(eq + 1)), "--set " + shown(item));
  }
  return spec;
}

const KeyInfo& Spec::info(const std::string& name, KeyType type) const {
  const KeyInfo* key = schema_->find(name);
  if (!key) throw Error("spec key '" + name + "' is not declared");
  if (key->type != type) throw Error("spec key '" + name + "' read as the wrong type");
  return *key;
}

int64_t Spec::get_int(const std::string& name) const {
  info(name, KeyType::kInt);
  return std::stoll(values_.at(name));
}

double Spec::get_float(const std::string& name) const {
  info(name, KeyType::kFloat);
  return std::stod(values_.at(name));
}

bool Spec::get_bool(const std::string& name) const {
  info(name, KeyType::kBool);
  return values_.at(name) == "true";
}

const std::string& Spec::get_string(const std::string& name) const {
  info(name, KeyType::kString);
  return values_.at(name);
}

const std::string& Spec::source(const std::string& name) const { return sources_.at(name); }

std::string Spec::to_ini() const {
  std::ostringstream out;
  out << "# Fully resolved shardlab spec (shardlab " << SHARDLAB_VERSION << ")\n";
  std::string section;
  for (const auto& [name, value] : values_) {
    const auto dot = name.find('.');
    const std::string s = name.substr(0, dot);
    if (s != section) {
      out << "\n[" << s << "]\n";
      section = s;
    }
    out << name.substr(dot + 1) << " = " << value << "\n";
  }
  return out.str();
}

std::string Spec::difference_from(const Spec& other) const {
  std::string out;
  for (const auto& [name, value] : values_) {
    const auto it = other.values_.find(name);
    const std::string theirs = it == other.values_.end() ? "?" : it->second;
    bool same = theirs == value;
    const KeyInfo* key = schema_->find(name);
    if (!same && key && it != other.values_.end() && (key->type == KeyType::kFloat || key->type == KeyType::kInt))
      same = std::stod(theirs) == std::stod(value);
    if (!same) out += (out.empty() ? "" : ", ") + name + " (" + theirs + " -> " + value + ")";
  }
  return out;
}

std::map<std::string, std::string> Spec::values_under(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : values_)
    if (name.rfind(prefix, 0) == 0) out[name] = value;
  return out;
}

std::pair<int64_t, int64_t> parse_range(const std::string& text, const std::string& what) {
  auto number = [&](const std::string& s) {
    const auto v = parse_integer(s);
    if (!v || *v < 0)
      throw InputError(what + " '" + text + "': expected a seed S or a range A:B of non-negative integers");
    return *v;
  };
  const auto colon = text.find(':');
  if (colon == std::string::npos) {
    const int64_t s = number(text);
    return {s, s + 1};
  }
  const int64_t a = number(text.substr(0, colon));
  const int64_t b = number(text.substr(colon + 1));
  if (b <= a) throw InputError(what + " '" + text + "': expected A:B with A < B (seeds A, A+1, ..., B-1)");
  return {a, b};
}

namespace {

// A comma-separated list of integers ("8,16,16"): InputError for anything else.
std::vector<int64_t> integer_list(const std::string& name, const std::string& text) {
  std::vector<int64_t> values;
  for (const std::string& item : split(text, ',')) {
    const auto v = parse_integer(item);
    if (!v) throw InputError(name + " = '" + text + "': expected comma-separated integers, e.g. 8,16,16");
    values.push_back(*v);
  }
  if (values.empty()) throw InputError(name + ": expected comma-separated integers, e.g. 8,16,16");
  return values;
}

}  // namespace

KeyInfo& KeyDeclarer::operator()(const std::string& name, int64_t& field, const std::string& help) {
  return schema_.add_int(name, field, help);
}
KeyInfo& KeyDeclarer::operator()(const std::string& name, uint64_t& field, const std::string& help) {
  return schema_.add_int(name, static_cast<int64_t>(field), help).at_least(0);
}
KeyInfo& KeyDeclarer::operator()(const std::string& name, double& field, const std::string& help) {
  return schema_.add_float(name, field, help);
}
KeyInfo& KeyDeclarer::operator()(const std::string& name, bool& field, const std::string& help) {
  return schema_.add_bool(name, field, help);
}
KeyInfo& KeyDeclarer::operator()(const std::string& name, std::string& field, const std::string& help,
                                 std::vector<std::string> choices) {
  return schema_.add_string(name, field, help, std::move(choices));
}
KeyInfo& KeyDeclarer::operator()(const std::string& name, std::vector<int64_t>& field, const std::string& help) {
  KeyInfo& info = schema_.add_string(name, join(field), help);
  info.check = [name](const std::string& v) { integer_list(name, v); };
  return info;
}

KeyInfo& KeyReader::operator()(const std::string& name, int64_t& field, const std::string&) {
  field = spec_.get_int(name);
  return ignored_;
}
KeyInfo& KeyReader::operator()(const std::string& name, uint64_t& field, const std::string&) {
  field = static_cast<uint64_t>(spec_.get_int(name));
  return ignored_;
}
KeyInfo& KeyReader::operator()(const std::string& name, double& field, const std::string&) {
  field = spec_.get_float(name);
  return ignored_;
}
KeyInfo& KeyReader::operator()(const std::string& name, bool& field, const std::string&) {
  field = spec_.get_bool(name);
  return ignored_;
}
KeyInfo& KeyReader::operator()(const std::string& name, std::string& field, const std::string&,
                               std::vector<std::string>) {
  field = spec_.get_string(name);
  return ignored_;
}
KeyInfo& KeyReader::operator()(const std::string& name, std::vector<int64_t>& field, const std::string&) {
  field = integer_list(name, spec_.get_string(name));
  return ignored_;
}

}  // namespace shardlab
