// Experiment specs: INI files read with Boost.Program_options, where `[section] key = value`
// becomes the dotted key `section.key`. Every key is declared once in a SpecSchema with its
// type, default and help line; a Spec is a schema's keys resolved from defaults, a file and
// `--set key=value` overrides, each value validated when it is read in.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

enum class KeyType { kInt, kFloat, kBool, kString };

struct KeyInfo {
  std::string name;  // dotted: "env.placement"
  KeyType type = KeyType::kString;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices;  // when not empty, the only accepted values
  // Extra check of the value's text; throws InputError with what was expected.
  std::function<void(const std::string&)> check;
  // Numbers: the accepted interval (non-finite numbers are always refused).
  double min = -1e308, max = 1e308;
  bool min_exclusive = false;

  // Chainable range settings: .at_least(1), .above(0), .at_most(1).
  KeyInfo& at_least(double v) {
    min = v;
    min_exclusive = false;
    return *this;
  }
  KeyInfo& above(double v) {
    min = v;
    min_exclusive = true;
    return *this;
  }
  KeyInfo& at_most(double v) {
    max = v;
    return *this;
  }
};

// One `key = value` line of an INI file (specs, recipes), in file order, duplicates kept.
struct IniEntry {
  std::string section, key, value;  // trimmed; section "" before the first [section]
  int line = 0;
};
// Every entry of an INI text; `#` and `;` start comment lines. InputError "NAME:LINE: ..." for a
// line that is neither blank, a comment, `[section]` nor `key = value`.
std::vector<IniEntry> ini_entries(const std::string& text, const std::string& name);

// A default value as spec text that reads back to the same number ("0.0005", "1e-05", "64").
std::string spec_number(double value);

class SpecSchema {
 public:
  // Declares a key. Declaring one twice is a programming error (throws Error).
  KeyInfo& add(const std::string& name, KeyType type, const std::string& default_value, const std::string& help);
  // Typed declarations whose default is the config struct's own field, so each default exists once.
  KeyInfo& add_int(const std::string& name, int64_t default_value, const std::string& help);
  KeyInfo& add_float(const std::string& name, double default_value, const std::string& help);
  KeyInfo& add_bool(const std::string& name, bool default_value, const std::string& help);
  KeyInfo& add_string(const std::string& name, const std::string& default_value, const std::string& help,
                      std::vector<std::string> choices = {});
  const KeyInfo* find(const std::string& name) const;
  const std::map<std::string, KeyInfo>& keys() const { return keys_; }
  // `shardlab spec keys`: one block per key, grouped by section.
  std::string describe() const;

 private:
  std::map<std::string, KeyInfo> keys_;
};

class Spec {
 public:
  // Defaults only.
  explicit Spec(const SpecSchema& schema);

  // Reads `path` (if not empty) then applies `overrides` ("key=value"). Errors name the file,
  // line, key and what was expected, and are InputError.
  static Spec load(const SpecSchema& schema, const std::string& path, const std::vector<std::string>& overrides);

  // Like load, from the text of an INI file; `name` stands for the file in error messages.
  static Spec from_text(const SpecSchema& schema, const std::string& text, const std::string& name,
                        const std::vector<std::string>& overrides);

  // Sets one key from text; `where` says where the text came from, for error messages.
  void set(const std::string& name, const std::string& value, const std::string& where);

  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const SpecSchema& schema() const { return *schema_; }
  // Where a key's value came from: "default", "FILE:LINE" or "--set".
  const std::string& source(const std::string& name) const;

  // The fully resolved spec as an INI file that loads back into the same values.
  std::string to_ini() const;
  // "key (theirs -> ours), ..." for every key whose value differs from `other`'s (numbers compared
  // as numbers, so 5e-4 equals 0.0005); empty when they agree.
  std::string difference_from(const Spec& other) const;
  // The resolved values of keys under a prefix, e.g. "env." -> {"env.placement": ...}.
  std::map<std::string, std::string> values_under(const std::string& prefix) const;

 private:
  const KeyInfo& info(const std::string& name, KeyType type) const;
  const SpecSchema* schema_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> sources_;
};

// Each config struct binds its keys to its fields once, in a member template
//   template <class Keys> void bind(Keys& keys) {
//     keys("ppo.clip_coef", clip_coef, "surrogate clipping coefficient").above(0);
//   }
// declare_keys_of<Config>(schema) declares them with a default-constructed Config's fields as the
// defaults (and the ranges and checks chained on); read_keys<Config>(spec) reads them all into a
// Config. Fields: int64_t, uint64_t (at least 0), double, bool, std::string (with optional
// choices) and std::vector<int64_t> (comma-separated, as "8,16,16").
class KeyDeclarer {
 public:
  explicit KeyDeclarer(SpecSchema& schema) : schema_(schema) {}
  KeyInfo& operator()(const std::string& name, int64_t& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, uint64_t& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, double& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, bool& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, std::string& field, const std::string& help,
                      std::vector<std::string> choices = {});
  KeyInfo& operator()(const std::string& name, std::vector<int64_t>& field, const std::string& help);

 private:
  SpecSchema& schema_;
};

class KeyReader {
 public:
  explicit KeyReader(const Spec& spec) : spec_(spec) {}
  KeyInfo& operator()(const std::string& name, int64_t& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, uint64_t& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, double& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, bool& field, const std::string& help);
  KeyInfo& operator()(const std::string& name, std::string& field, const std::string& help,
                      std::vector<std::string> choices = {});
  KeyInfo& operator()(const std::string& name, std::vector<int64_t>& field, const std::string& help);

 private:
  const Spec& spec_;
  KeyInfo ignored_;  // a reader's ranges and checks: the schema applied them when the value was set
};

template <class Config>
void declare_keys_of(SpecSchema& schema) {
  Config defaults;
  KeyDeclarer declarer(schema);
  defaults.bind(declarer);
}

template <class Config>
Config read_keys(const Spec& spec) {
  Config config;
  KeyReader reader(spec);
  config.bind(reader);
  return config;
}

// Parses "A:B" (A <= B) into [A, B), or a single "S" into [S, S+1). Throws InputError naming `what`.
std::pair<int64_t, int64_t> parse_range(const std::string& text, const std::string& what);

}  // namespace shardlab
