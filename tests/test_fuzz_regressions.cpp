// Every input the fuzzers ever crashed on, replayed through the same API (fuzz/fuzz_inputs.h):
// tests/data/fuzz/<target>/ holds the minimized inputs; each must be accepted or refused with a
// shardlab error, never crash or throw anything else. Runs in every build, sanitized or not.
#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <typeinfo>

#include "core/error.h"
#include "fuzz/fuzz_inputs.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzRegressions, EveryKeptInputGivesAShardlabErrorOrSuccess) {
  const fs::path root = fs::path(SHARDLAB_SOURCE_DIR) / "tests" / "data" / "fuzz";
  int replayed = 0;
  for (const fuzz::Target& target : fuzz::targets()) {
    const fs::path dir = root / target.name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') continue;
      const std::vector<uint8_t> input = bytes_of(entry.path());
      SCOPED_TRACE(entry.path().string());
      try {
        target.feed(input.data(), input.size());
      } catch (const Error&) {
        // Refused with one of shardlab's own errors: what a bad input should get.
      } catch (const std::exception& e) {
        ADD_FAILURE() << typeid(e).name() << " escaped: " << e.what();
      }
      ++replayed;
    }
  }
  RecordProperty("replayed", replayed);
}

}  // namespace
}  // namespace shardlab
