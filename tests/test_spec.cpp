// Experiment specs: INI sections to dotted keys, typed validation, errors with file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/spec.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

std::string write_spec(const std::string& text) {
  const std::string path = test::make_temp_dir() + "/spec.ini";
  std::ofstream(path) << text;
  return path;
}

// The message of the InputError that `f` throws ("" if it throws none).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

const SpecSchema& schema() { return shardlab_schema(); }

TEST(Spec, SectionsBecomeDottedKeysAndOverridesWin) {
  const std::string path = write_spec(
      "# a comment\n[env]\nplacement = top_right_region:5\nnum_envs = 8\n\n[run]\nseed = 42\n");
  const Spec spec = Spec::load(schema(), path, {"env.num_envs=16"});
  EXPECT_EQ(spec.get_string("env.placement"), "top_right_region:5");
  EXPECT_EQ(spec.get_int("env.num_envs"), 16);
  EXPECT_EQ(spec.get_int("run.seed"), 42);
  EXPECT_EQ(spec.get_string("env.distribution"), "hard");  // default
  EXPECT_EQ(spec.source("env.placement"), path + ":3");
  EXPECT_EQ(spec.source("env.distribution"), "default");
}

TEST(Spec, UnknownKeyNamesFileLineAndKey) {
  const std::string path = write_spec("[env]\nnum_envs = 8\nplacment = uniform\n");
  const std::string msg = error_of([&] { Spec::load(schema(), path, {}); });
  EXPECT_NE(msg.find(path + ":3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("env.placment"), std::string::npos) << msg;
}

TEST(Spec, MalformedValuesNameWhatWasExpected) {
  const std::string path = write_spec("[env]\nnum_envs = many\n");
  std::string msg = error_of([&] { Spec::load(schema(), path, {}); });
  EXPECT_NE(msg.find(path + ":2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("env.num_envs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;

  msg = error_of([&] { Spec::load(schema(), write_spec("[env]\nobservation = rbg\n"), {}); });
  EXPECT_NE(msg.find("one of grid, rgb"), std::string::npos) << msg;

  msg = error_of([&] { Spec::load(schema(), write_spec("[env]\nplacement = top_right_region:0\n"), {}); });
  EXPECT_NE(msg.find("top_right_region:N"), std::string::npos) << msg;

  msg = error_of([&] { Spec::load(schema(), write_spec("[env]\nnum_envs = 0\n"), {}); });
  EXPECT_NE(msg.find("at least 1"), std::string::npos) << msg;

  msg = error_of([&] { Spec::load(schema(), write_spec("[env]\nnum_envs = 8x\n"), {}); });
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
}

TEST(Spec, SyntaxErrorsMissingFilesAndDuplicates) {
  std::string msg = error_of([&] { Spec::load(schema(), "/nonexistent/spec.ini", {}); });
  EXPECT_NE(msg.find("/nonexistent/spec.ini"), std::string::npos) << msg;

  const std::string path = write_spec("[env]\nnum_envs = 8\njust some words\n");
  msg = error_of([&] { Spec::load(schema(), path, {}); });
  EXPECT_NE(msg.find(path + ":3"), std::string::npos) << msg;

  msg = error_of([&] { Spec::load(schema(), write_spec("[env]\nnum_envs = 8\nnum_envs = 9\n"), {}); });
  EXPECT_NE(msg.find("more than once"), std::string::npos) << msg;
}

TEST(Spec, BadOverrides) {
  std::string msg = error_of([&] { Spec::load(schema(), "", {"env.num_envs"}); });
  EXPECT_NE(msg.find("key=value"), std::string::npos) << msg;
  msg = error_of([&] { Spec::load(schema(), "", {"env.nonsense=3"}); });
  EXPECT_NE(msg.find("unknown key 'env.nonsense'"), std::string::npos) << msg;
  msg = error_of([&] { Spec::load(schema(), "", {"run.seed=-x"}); });
  EXPECT_NE(msg.find("run.seed"), std::string::npos) << msg;
}

TEST(Spec, ResolvedIniLoadsBackToTheSameValues) {
  const Spec spec = Spec::load(schema(), "", {"env.placement=corner", "run.seed=9", "env.observation=rgb"});
  const std::string path = write_spec(spec.to_ini());
  const Spec back = Spec::load(schema(), path, {});
  EXPECT_EQ(back.to_ini(), spec.to_ini());
  EXPECT_EQ(back.get_string("env.placement"), "corner");
}

TEST(Spec, EveryKeyHasHelpAndAValidDefault) {
  for (const auto& [name, key] : schema().keys()) {
    EXPECT_FALSE(key.help.empty()) << name;
    EXPECT_NE(name.find('.'), std::string::npos) << name;
  }
  EXPECT_NO_THROW(Spec::load(schema(), "", {}));
  const std::string listing = schema().describe();
  EXPECT_NE(listing.find("env.placement"), std::string::npos);
  EXPECT_NE(listing.find("[run]"), std::string::npos);
}

TEST(Spec, SeedRanges) {
  EXPECT_EQ(parse_range("3:7", "--seeds"), (std::pair<int64_t, int64_t>{3, 7}));
  EXPECT_EQ(parse_range("5", "--seeds"), (std::pair<int64_t, int64_t>{5, 6}));
  for (const char* bad : {"7:3", "3:3", "a:b", "-1:4", ":4", "4:", ""})
    EXPECT_THROW(parse_range(bad, "--seeds"), InputError) << bad;
}

// The specs shipped in experiments/ load: a key renamed or a value no longer accepted shows here,
// not when a user first runs one.
TEST(Spec, EveryShippedSpecLoads) {
  int loaded = 0;
  for (const auto& e : std::filesystem::directory_iterator(SHARDLAB_SOURCE_DIR "/experiments")) {
    if (e.path().extension() != ".ini") continue;
    EXPECT_NO_THROW(Spec::load(shardlab_schema(), e.path().string(), {})) << e.path();
    ++loaded;
  }
  EXPECT_GE(loaded, 10);
}

}  // namespace
}  // namespace shardlab
