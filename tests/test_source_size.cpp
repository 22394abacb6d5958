// Files that read in one sitting (../shared/STYLE.md): no source file over 500 lines and no
// function over 80, checked on every non-test source. A function is a definition that starts at
// column 0 and ends at the next line that is a lone '}' at column 0 (clang-format's layout); the
// exceptions are named below, each with why it stays whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMostFileLines = 500;
constexpr size_t kMostFunctionLines = 80;

// "path: the start of the definition's first line" -> why it is one function.
const std::map<std::string, std::string>& long_functions_kept() {
  static const std::map<std::string, std::string> kept = {
      {"agents/ppo.cpp: std::map<std::string, double> ppo_update(",
       "reads top to bottom like CleanRL's ppo.py update, the reference it is checked against"},
      {"envs/box2d/bipedal_walker.cpp: void BipedalWalkerEnv::build_world(",
       "Gym's terrain and body construction transcribed in its order, so a reader can compare them side by side"},
      {"envs/box2d/lunar_lander.cpp: void LunarLanderEnv::build_world(",
       "Gym's terrain, lander and legs transcribed in its order, so a reader can compare them side by side"},
      {"agents/rollout.cpp: Rollout RolloutCollector::collect(",
       "the acting hot path: one loop over steps whose stages share their buffers (bench/bench_ppo.cpp)"},
      {"agents/torch_pickle.cpp: std::string readable_by_libtorch(",
       "one switch over the pickle opcodes a checkpoint may hold; splitting it scatters the format"},
      {"agents/torch_pickle.cpp: std::vector<PickleOp> pickle_ops(",
       "one switch whose cases are the opcode table of pickle protocols 2 and 3, with each opcode's length"},
  };
  return kept;
}

struct LongFunction {
  std::string where;  // "path: first line"
  size_t lines = 0;
};

// The functions of `text` longer than kMostFunctionLines.
std::vector<LongFunction> long_functions(const std::string& path, const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  std::vector<LongFunction> found;
  static const std::vector<std::string> not_functions = {"namespace", "}",      "#",     "//",      "struct",
                                                         "class",     "enum",   "using", "typedef", "extern",
                                                         "template",  "static_assert"};
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& first = lines[i];
    if (first.empty() || std::isspace(static_cast<unsigned char>(first[0])) || first.find('(') == std::string::npos)
      continue;
    bool skip = false;
    for (const std::string& word : not_functions) skip = skip || first.rfind(word, 0) == 0;
    if (skip) continue;
    // The line that opens the body; a declaration or a one-line definition has none.
    size_t open = i;
    char last = 0;
    for (; open < lines.size(); ++open) {
      const size_t end = lines[open].find_last_not_of(' ');
      last = end == std::string::npos ? 0 : lines[open][end];
      if (last == 0 || last == '{' || last == ';' || last == '}') break;
    }
    if (last != '{') continue;
    size_t close = open + 1;
    while (close < lines.size() && lines[close].rfind("}", 0) != 0) ++close;
    const size_t n = close - i + 1;
    if (n > kMostFunctionLines) found.push_back({path + ": " + first, n});
    i = close;
  }
  return found;
}

bool kept(const std::string& where) {
  for (const auto& [start, why] : long_functions_kept())
    if (where.rfind(start, 0) == 0) return true;
  return false;
}

TEST(Sources, NoFileOver500LinesAndNoFunctionOver80) {
  const fs::path root = SHARDLAB_SOURCE_DIR;
  size_t files = 0;
  std::map<std::string, bool> exception_used;
  for (const auto& [start, why] : long_functions_kept()) exception_used[start] = false;
  for (const char* layer : {"core", "media", "envs", "agents", "offline", "analysis", "experiments", "report", "cli"})
    for (const auto& entry : fs::recursive_directory_iterator(root / layer)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".cpp" && ext != ".h") continue;
      ++files;
      const std::string path = fs::relative(entry.path(), root).string();
      const std::string text = test::read_file(entry.path().string());
      const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
      EXPECT_LE(lines, kMostFileLines) << path << ": split it into files that read in one sitting";
      for (const LongFunction& f : long_functions(path, text)) {
        for (auto& [start, used] : exception_used) used = used || f.where.rfind(start, 0) == 0;
        EXPECT_TRUE(kept(f.where)) << f.where << " is " << f.lines << " lines (at most " << kMostFunctionLines
                                   << "): split it, or name it with its reason in long_functions_kept()";
      }
    }
  EXPECT_GT(files, 200u);
  for (const auto& [start, used] : exception_used)
    EXPECT_TRUE(used) << start << " is no longer long: take it out of long_functions_kept()";
}

TEST(Sources, APlantedLongFunctionIsFound) {
  std::string text = "namespace x {\n\nint f(int a,\n      int b) {\n";
  for (int i = 0; i < 90; ++i) text += "  ++a;\n";
  text += "  return a + b;\n}\n\nint g() { return 1; }\nint h();\n\n}  // namespace x\n";
  const auto found = long_functions("planted.cpp", text);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].where, "planted.cpp: int f(int a,");
  EXPECT_EQ(found[0].lines, 94u);
}

}  // namespace
}  // namespace shardlab
