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
};

class SpecSchema {
 public:
  // Declares a key. Declaring one twice is a programming error (throws Error).
  KeyInfo& add(const std::string& name, KeyType type, const std::string& default_value, const std::string& help);
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
  // The resolved values of keys under a prefix, e.g. "env." -> {"env.placement": ...}.
  std::map<std::string, std::string> values_under(const std::string& prefix) const;

 private:
  const KeyInfo& info(const std::string& name, KeyType type) const;
  const SpecSchema* schema_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> sources_;
};

// Parses "A:B" (A <= B) into [A, B), or a single "S" into [S, S+1). Throws InputError naming `what`.
std::pair<int64_t, int64_t> parse_range(const std::string& text, const std::string& what);

}  // namespace shardlab
