// The layer order of docs/architecture.md, checked on the sources: each layer includes only its own
// headers and those of the layers above it, and core and envs include nothing of libtorch. CMake's
// targets would let a static library's header include a later layer's header without complaint,
// so this test is what enforces the order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace shardlab {
namespace {

namespace fs = std::filesystem;

// Each layer's folder and the folders it may include from (itself included).
const std::map<std::string, std::set<std::string>>& allowed_includes() {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"core", {"core"}},
      {"media", {"core", "media"}},
      {"envs", {"core", "envs"}},
      {"agents", {"core", "media", "envs", "agents"}},
      {"offline", {"core", "media", "envs", "agents", "offline"}},
      {"analysis", {"core", "media", "envs", "agents", "analysis"}},
      {"experiments", {"core", "media", "envs", "agents", "offline", "experiments"}},
      {"report", {"core", "media", "envs", "agents", "offline", "experiments", "report"}},
      {"cli", {"core", "media", "envs", "agents", "offline", "analysis", "experiments", "report", "cli"}},
  };
  return allowed;
}

struct Violation {
  std::string file;
  int line = 0;
  std::string include;
};

// The project includes of every source file of `layer` that the layer may not use; with
// `no_torch`, libtorch's headers too.
std::vector<Violation> violations(const std::string& root, const std::string& layer, bool no_torch) {
  static const std::regex project(R"(^\s*#\s*include\s*"([a-z_]+)/[^"]+")");
  static const std::regex torch(R"(^\s*#\s*include\s*<(torch|ATen|c10)/[^>]+>)");
  const std::set<std::string>& allowed = allowed_includes().at(layer);
  std::vector<Violation> found;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / layer)) {
    const std::string ext = entry.path().extension().string();
    if (ext != ".h" && ext != ".cpp") continue;
    std::ifstream in(entry.path());
    std::string text;
    int number = 0;
    while (std::getline(in, text)) {
      ++number;
      std::smatch m;
      const bool bad_project =
          std::regex_search(text, m, project) && allowed_includes().count(m[1]) && !allowed.count(m[1]);
      const bool bad_torch = no_torch && std::regex_search(text, m, torch);
      if (bad_project || bad_torch)
        found.push_back({fs::relative(entry.path(), root).string(), number, text});
    }
  }
  return found;
}

TEST(Layers, NoIncludeRunsAgainstTheLayerOrder) {
  const std::string root = SHARDLAB_SOURCE_DIR;
  size_t files_seen = 0;
  for (const auto& [layer, allowed] : allowed_includes()) {
    ASSERT_TRUE(fs::is_directory(fs::path(root) / layer)) << layer;
    for (const Violation& v : violations(root, layer, layer == "core" || layer == "media" || layer == "envs"))
      ADD_FAILURE() << v.file << ":" << v.line << ": " << v.include << " (the " << layer
                    << " layer may include only " << testing::PrintToString(allowed)
                    << "; docs/architecture.md)";
    for (const auto& e : fs::recursive_directory_iterator(fs::path(root) / layer)) files_seen += e.is_regular_file();
  }
  EXPECT_GT(files_seen, 100u);
}

// The check itself: a planted include against the order is found.
TEST(Layers, APlantedWrongWayIncludeIsFound) {
  const fs::path root = fs::temp_directory_path() / ("shardlab_layers_" + std::to_string(::getpid()));
  fs::create_directories(root / "envs");
  std::ofstream(root / "envs" / "bad.h") << "#pragma once\n#include \"core/error.h\"\n#include \"agents/torso.h\"\n"
                                         << "#include <torch/torch.h>\n";
  const auto found = violations(root.string(), "envs", /*no_torch=*/true);
  fs::remove_all(root);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].line, 3);
  EXPECT_EQ(found[1].line, 4);
}

}  // namespace
}  // namespace shardlab
