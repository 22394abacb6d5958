// The command line end to end, as a user runs it: outputs, files, and one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/study.h"
#include "core/digest.h"
#include "core/text.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using test::run_cli;
using test::run_shell;

// The records of the reference file from `first` (0-based) on, `count` of them.
std::string reference_records(int first, int count) {
  std::ifstream in(test::shared_dir() + "/testdata/procgen_maze_layouts.txt");
  std::string line, out;
  int record = -1;
  while (std::getline(in, line)) {
    if (line.rfind("seed ", 0) == 0) ++record;
    if (record >= first && record < first + count) out += line + "\n";
  }
  return out;
}

// An error is exactly one line on stderr, starting with "shardlab: error:", and exit code 2.
TEST(Cli, MazeShowPrintsProcgenRecords) {
  // The reference file holds hard/uniform 0-999 then easy/uniform 0-299, hard/top_right_region_5 0-299, ...
  auto r = run_cli("maze show --seeds 0:1000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, reference_records(0, 1000));
  r = run_cli("maze show --seeds 0:300 --distribution easy");
  EXPECT_EQ(r.out, reference_records(1000, 300));
  r = run_cli("maze show --seeds 0:300 --placement top_right_region:5");
  EXPECT_EQ(r.out, reference_records(1300, 300));
  r = run_cli("maze show --seed 3 --placement corner");
  EXPECT_EQ(r.out, reference_records(1700 + 3, 1));
}

TEST(Cli, MazeShowDrawsSvg) {
  const std::string dir = test::make_temp_dir();
  const auto r = run_cli("maze show --seeds 0:4 --svg " + dir + "/m.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = test::read_file(dir + "/m.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("data:image/png;base64,"), std::string::npos);
}

TEST(Cli, BadFlagsGiveOneLineErrors) {
  expect_one_line_error(run_cli("maze show --seeds 5:2"), "--seeds");
  expect_one_line_error(run_cli("maze show --seed 1 --placement top_right"), "placement");
  expect_one_line_error(run_cli("maze show --seed 1 --distribution medium"), "distribution");
  expect_one_line_error(run_cli("maze show --seed 1 --colour red"), "colour");
  expect_one_line_error(run_cli("maze show"), "--seed");
  expect_one_line_error(run_cli("frobnicate"), "frobnicate");
  expect_one_line_error(run_cli("collect --steps 10"), "--out");
  expect_one_line_error(run_cli("collect --steps 10 --out /tmp/x.h5 --policy expert"), "policy");
  expect_one_line_error(run_cli("collect --steps 10 --out /tmp/x.h5 --env chess"), "chess");
  expect_one_line_error(run_cli("spec show --set env.num_envs=lots"), "env.num_envs");
}

TEST(Cli, SpecErrorsNameFileLineAndKey) {
  const std::string dir = test::make_temp_dir();
  std::ofstream(dir + "/bad.ini") << "[env]\nnum_envs = 4\nplacemnt = corner\n";
  expect_one_line_error(run_cli("spec show " + dir + "/bad.ini"), dir + "/bad.ini:3: unknown key 'env.placemnt'");
  expect_one_line_error(run_cli("spec show " + dir + "/missing.ini"), "missing.ini");
  const auto keys = run_cli("spec keys");
  EXPECT_EQ(keys.exit_code, 0);
  EXPECT_NE(keys.out.find("env.placement"), std::string::npos);
}

TEST(Cli, CollectWritesD4rlFileThatH5pyReads) {
  const std::string dir = test::make_temp_dir();
  const std::string out = dir + "/data.h5";
  const auto r =
      run_cli("collect --env maze --set env.num_envs=8 --set env.distribution=hard --steps 6000 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto check =
      run_shell("/usr/bin/python3 " SHARDLAB_SOURCE_DIR "/tests/h5py_check_experience.py " + out + " 6000");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out.rfind("OK", 0), 0u) << check.out;
  // The resolved spec sits next to the data and loads back.
  const auto spec = run_cli("spec show " + out + ".spec.ini");
  EXPECT_EQ(spec.exit_code, 0) << spec.err;
  EXPECT_NE(spec.out.find("num_envs = 8"), std::string::npos);
  // inspect lists the datasets and the episodes.
  const auto inspect = run_cli("inspect " + out);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("observations"), std::string::npos);
  EXPECT_NE(inspect.out.find("episodes"), std::string::npos);
}

TEST(Cli, CollectIsReproducibleAndRefusesToOverwrite) {
  const std::string dir = test::make_temp_dir();
  const std::string args = "collect --set env.num_envs=4 --set run.seed=5 --steps 3000 --out ";
  ASSERT_EQ(run_cli(args + dir + "/a.h5").exit_code, 0);
  ASSERT_EQ(run_cli(args + dir + "/b.h5").exit_code, 0);
  const auto same = run_shell(
      "/usr/bin/python3 -c \"import h5py,numpy as np,sys;a=h5py.File(sys.argv[1]);b=h5py.File(sys.argv[2]);"
      "sys.exit(0 if all(np.array_equal(a[k][:],b[k][:]) for k in "
      "('observations','actions','rewards','terminals','timeouts')) else 1)\" " +
      dir + "/a.h5 " + dir + "/b.h5");
  EXPECT_EQ(same.exit_code, 0) << same.err;

  const std::string before = test::read_file(dir + "/a.h5");
  expect_one_line_error(run_cli(args + dir + "/a.h5"), "--force");
  EXPECT_EQ(test::read_file(dir + "/a.h5"), before);
  EXPECT_EQ(run_cli(args + dir + "/a.h5 --force").exit_code, 0);
}

TEST(Cli, InspectRejectsFilesThatAreNotHdf5) {
  const std::string dir = test::make_temp_dir();
  std::ofstream(dir + "/notes.h5") << "not an HDF5 file\n";
  expect_one_line_error(run_cli("inspect " + dir + "/notes.h5"), "notes.h5");
  expect_one_line_error(run_cli("inspect " + dir + "/absent.h5"), "absent.h5");
}

TEST(Cli, InspectSurvivesCorruptedFiles) {
  // Overwrite random bytes of a real experience file's metadata (its first 4 KiB, past the
  // signature), 10 times: inspect must describe the file or print one error line, never crash.
  const std::string dir = test::make_temp_dir();
  ASSERT_EQ(run_cli("collect --set env.num_envs=4 --steps 500 --out " + dir + "/good.h5").exit_code, 0);
  const std::string good = test::read_file(dir + "/good.h5");
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  int errors = 0;
  for (int copy = 0; copy < 10; ++copy) {
    std::string bad = good;
    for (int k = 0; k < 16; ++k) bad[8 + next() % 4088] = static_cast<char>(next() & 0xff);
    const std::string path = dir + "/bad" + std::to_string(copy) + ".h5";
    std::ofstream(path, std::ios::binary) << bad;
    const auto r = run_cli("inspect " + path);
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 2) << "copy " << copy << " exit " << r.exit_code << "\n" << r.err;
    if (r.exit_code == 2) {
      ++errors;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    }
  }
  EXPECT_GT(errors, 0);
}

// The README's first command at the demo recipe's smoke scale: every step runs and leaves its
// files, the report leads with the findings, and a second demo in the folder trains nothing again.
TEST(Cli, QuickDemoRunsEveryStep) {
  const std::string dir = test::make_temp_dir();
  const auto r = test::run_cli("demo --quick --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* step : {"== 1.", "== 2.", "== 3.", "== 4.", "## Trained against random"})
    EXPECT_NE(r.out.find(step), std::string::npos) << step;
  for (const char* file : {"/mazes.svg", "/random_maze.h5", "/demo/eval_train.json", "/demo/eval_uniform.json",
                           "/demo/eval_uniform_500_steps.json", "/demo/eval_random_uniform.json",
                           "/demo/eval_random_uniform_500_steps.json", "/demo/analysis/cheese_vector_summary.json",
                           "/demo/analysis/channels.csv", "/demo/vector_field.svg", "/demo/result.json",
                           "/demo/result.md", "/report.html"})
    EXPECT_TRUE(std::ifstream(dir + file).good()) << file;
  // The random-policy control plays in the run's own mazes, in Procgen's 500-step episodes: the JSON says so.
  const std::string control = test::read_file(dir + "/demo/eval_random_uniform_500_steps.json");
  EXPECT_NE(control.find("\"policy\": \"random\""), std::string::npos) << control;
  EXPECT_NE(control.find("\"max_episode_steps\": \"500\""), std::string::npos) << control;
  EXPECT_NE(control.find("\"environment_of\": \"" + dir + "/runs/"), std::string::npos) << control;
  EXPECT_NE(test::read_file(dir + "/demo/eval_uniform.json").find("\"policy\": \"sampled\""), std::string::npos);
  // The demo trains as two data-parallel ranks.
  std::string run;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/runs")) run = e.path().string();
  EXPECT_NE(test::read_file(run + "/run.json").find("\"world_size\": 2"), std::string::npos);
  // The page leads with what the demo found: the evaluation table comes before the run's facts.
  const std::string html = test::read_file(dir + "/report.html");
  ASSERT_NE(html.find("<h2>The demo agent"), std::string::npos);
  EXPECT_LT(html.find("<h2>The demo agent"), html.find("<h2>Overview"));
  // Again: the run is reused (its train returns at once) and the finished steps are skipped.
  const auto again = test::run_cli("demo --quick --out " + dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("processes to run: 0"), std::string::npos) << again.err;
}

// A bad --jobs is one error line before the demo writes anything.
TEST(Cli, DemoRefusesBadCountsBeforeWriting) {
  const std::string dir = test::make_temp_dir() + "/demo";
  expect_one_line_error(run_cli("demo --quick --jobs 0 --out " + dir), "--jobs");
  EXPECT_FALSE(std::filesystem::exists(dir));
}

// scripts/train-throughput.sh (docs/benchmarks.md): bad arguments (and a bad FROM_UPDATE) are one
// error line and exit 2, before anything trains, and a row folder already there is kept.
TEST(Cli, TrainThroughputScriptRefusesBadInputInOneLine) {
  const std::string script = SHARDLAB_SOURCE_DIR "/scripts/train-throughput.sh";
  const std::string spec = SHARDLAB_SOURCE_DIR "/experiments/ppo_maze_smoke.ini";
  const std::string dir = test::make_temp_dir();
  std::filesystem::create_directories(dir + "/kept/1");
  std::ofstream(dir + "/kept/1/result.txt") << "earlier";
  const struct {
    std::string args, needle;
  } cases[] = {{dir + "/a " + dir + "/missing.ini 2 'one|'", "no spec file"},
               {dir + "/a " + spec + " 0 'one|'", "UPDATES must be a positive integer, got '0'"},
               {dir + "/a " + spec + " two 'one|'", "UPDATES must be a positive integer, got 'two'"},
               {dir + "/kept " + spec + " 1 'one|'", "kept/1 exists already"},
               {"FROM_UPDATE=0 " + dir + "/a " + spec + " 2 'one|'", "FROM_UPDATE must be a positive integer, got '0'"},
               {"FROM_UPDATE=3 " + dir + "/a " + spec + " 2 'one|'", "FROM_UPDATE (3) is after the last update (2)"}};
  for (const auto& c : cases) {
    // A case may start with an environment setting (NAME=value) for the script.
    const bool with_env = c.args.rfind("FROM_UPDATE=", 0) == 0;
    const std::string env = with_env ? c.args.substr(0, c.args.find(' ') + 1) : "";
    const auto r = run_shell(env + "bash " + script + " " + c.args.substr(env.size()));
    EXPECT_EQ(r.exit_code, 2) << c.args;
    EXPECT_NE(r.err.find("train-throughput: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "") << c.args;
  }
  EXPECT_EQ(test::read_file(dir + "/kept/1/result.txt"), "earlier");
  EXPECT_FALSE(std::filesystem::exists(dir + "/a"));
}

// Every study of the registry is listed by `shardlab --help` and `analyze --help`, and runs its
// own --help: none can be left out of the lists.
TEST(Cli, EveryStudyIsListedFromTheRegistry) {
  const auto top = test::run_cli("--help");
  const auto analyze = test::run_cli("analyze --help");
  ASSERT_EQ(analyze.exit_code, 0);
  ASSERT_GE(analysis::study_commands().size(), 12u);
  for (const auto& study : analysis::study_commands()) {
    EXPECT_NE(top.out.find(" " + study.name), std::string::npos) << study.name;
    EXPECT_NE(analyze.out.find("  " + study.name + " "), std::string::npos) << study.name;
    EXPECT_NE(analyze.out.find(study.writes), std::string::npos) << study.name;
    const auto help = test::run_cli("analyze " + study.name + " --help");
    EXPECT_EQ(help.exit_code, 0) << study.name << help.err;
    EXPECT_NE(help.out.find("shardlab analyze " + study.name), std::string::npos) << study.name << help.out;
  }
  test::expect_one_line_error(test::run_cli("analyze nope"), "unknown study 'nope'");
  const auto bare = test::run_cli("analyze");
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_TRUE(bare.out.empty());
  EXPECT_NE(bare.err.find("usage: shardlab analyze"), std::string::npos);
}

// Every study's summary JSON starts with the one header (analysis/report_json.h): the study, the
// checkpoint and its SHA-256, the seeds, the protocol, the maze counts, the shardlab version.
TEST(Cli, EveryStudySummaryStartsWithTheSharedHeader) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  const std::string bytes = read_text_file(policy);
  const std::vector<std::pair<std::string, std::string>> studies = {
      {"cheese-vector --seeds 0:12", "cheese_vector_summary.json"},
      {"top-right-vector --seeds 0:12", "top_right_vector_summary.json"},
      {"channels --seeds 0:12", "channels_summary.json"},
      {"resample --channels 0 --seeds 0:4 --random-sets 1", "resample.json"},
      {"retarget --protocol ours --channels 0 --seeds 0:2", "retarget_summary.json"},
      {"behaviour --protocol ours --seeds 0:40", "behaviour.json"},
      {"steering-compare --seeds 0:30", "steering_compare.json"},  // 6 test mazes at least
      {"layer-sweep --seeds 0:12", "layer_sweep.json"},
      {"pushes --seeds 0:12", "pushes.json"},
  };
  for (const auto& [study, file] : studies) {
    const std::string name = study.substr(0, study.find(' '));
    const std::string out = dir + "/" + name;
    const auto r = test::run_cli("analyze " + name + " " + policy + study.substr(study.find(' ')) + " --out " + out);
    ASSERT_EQ(r.exit_code, 0) << study << "\n" << r.err;
    const auto j = nlohmann::ordered_json::parse(test::read_file(out + "/" + file));
    std::vector<std::string> first;
    for (const auto& item : j.items()) {
      if (first.size() == 7) break;
      first.push_back(item.key());
    }
    EXPECT_EQ(first, (std::vector<std::string>{"study", "checkpoint", "checkpoint_sha256", "seeds", "protocol",
                                               "maze_counts", "shardlab_version"}))
        << study;
    EXPECT_EQ(j["study"], name) << study;
    EXPECT_EQ(j["checkpoint_sha256"], sha256_hex(bytes.data(), bytes.size())) << study;
    EXPECT_EQ(j["shardlab_version"], SHARDLAB_VERSION) << study;
    EXPECT_TRUE(j["maze_counts"].contains("used")) << study;
  }
}

// docs/commands.md and docs/spec-keys.md are the binary's own --help and `spec keys`
// (scripts/reference-docs.sh): they cannot drift from the code.
TEST(Cli, ReferenceDocsAreGeneratedFromTheBinary) {
  const std::string dir = test::make_temp_dir();
  const std::string source = SHARDLAB_SOURCE_DIR;
  const auto r =
      test::run_shell(source + "/scripts/reference-docs.sh " + std::string(SHARDLAB_CLI) + " " + dir + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* page : {"commands.md", "spec-keys.md"}) {
    const std::string generated = test::read_file(dir + "/" + page);
    EXPECT_NE(generated.find("shardlab"), std::string::npos) << page;
    EXPECT_EQ(test::read_file(source + "/docs/" + page), generated)
        << "docs/" << page << " differs from the binary's help: run scripts/reference-docs.sh";
  }
}

}  // namespace
}  // namespace shardlab
