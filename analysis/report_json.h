// How the studies' JSON summaries write numbers and text (shared by analysis/*_reports): keys in
// the order they are set, 6 significant digits, null for a number that is not finite.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace shardlab::analysis {

using Json = nlohmann::ordered_json;

// 6 significant digits; null if not finite (JSON has no NaN or infinity).
inline Json number(double v) {
  if (!std::isfinite(v)) return nullptr;
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return std::strtod(text, nullptr);
}

// Paths are bytes, not necessarily UTF-8: replace what is not instead of throwing.
inline std::string dump(const Json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace shardlab::analysis
