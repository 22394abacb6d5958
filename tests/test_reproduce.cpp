// `shardlab reproduce` (experiments/recipe.h, reproduce.h, result_page.h): every recipe runs at its
// smoke scale, the published pages match their JSON, and bad recipes, names and folders are one
// error line that leaves what was written before.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "experiments/recipe.h"
#include "experiments/result_page.h"
#include "test_util.h"

namespace shardlab {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using test::run_cli;

// Every shipped recipe at its smoke scale, in one folder: each leaves a result whose every number
// was found, and a run two recipes share is trained once.
TEST(Reproduce, EveryRecipeRunsAtSmokeScale) {
  const std::string out = test::make_temp_dir();
  const auto r = run_cli("reproduce --all --smoke --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& name : recipe_names()) {
    SCOPED_TRACE(name);
    const Json result = Json::parse(test::read_file(out + "/" + name + "/result.json"));
    EXPECT_EQ(result["scale"], "smoke");
    const std::string page = test::read_file(out + "/" + name + "/result.md");
    EXPECT_EQ(page, result_page(result, ""));
    EXPECT_NE(page.find("**Smoke scale"), std::string::npos);
    // Every reference was filled in: no {FILE:FIELD} is left on the page.
    EXPECT_EQ(page.find(".json:"), std::string::npos) << page;
    for (const auto& figure : result["figures"])
      EXPECT_TRUE(fs::is_regular_file(out + "/" + name + "/" + figure["file"].get<std::string>())) << figure;
  }
  // Run again: every run is reused (its metrics stay as they were) and every step skipped.
  std::map<std::string, std::string> trained;
  for (const auto& e : fs::directory_iterator(out + "/runs"))
    trained[e.path().string()] = test::read_file(e.path().string() + "/metrics.csv");
  EXPECT_GE(trained.size(), 4u);  // the demo's agent, the lander, the walker, the REINFORCE agent
  const auto again = run_cli("reproduce --all --smoke --out " + out);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const std::string& name : recipe_names())
    EXPECT_NE(again.err.find(name + " steps: "), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("not started"), std::string::npos) << again.err;
  // The second call trained nothing; each run still counts as trained by exactly one recipe's calls
  // in this folder (a run two recipes share, such as the demo's agent, by the first), whose wall
  // times add up.
  std::map<std::string, int> trained_by;
  for (const std::string& name : recipe_names()) {
    const Json result = Json::parse(test::read_file(out + "/" + name + "/result.json"));
    for (const auto& run : result["runs"])
      trained_by[run["folder"].get<std::string>()] += run["trained_before"].get<bool>() ? 0 : 1;
    const Json marker = Json::parse(test::read_file(out + "/" + name + "/recipe.json"));
    EXPECT_GT(marker["wall_seconds"].get<double>(), 0) << name;
  }
  for (const auto& [folder, recipes] : trained_by) EXPECT_EQ(recipes, 1) << folder;
  for (const auto& [run, metrics] : trained) EXPECT_EQ(test::read_file(run + "/metrics.csv"), metrics) << run;
}

// The pages in docs/results are what their JSON gives, and each is a recipe's.
TEST(Reproduce, PublishedPagesMatchTheirJson) {
  const std::string docs = SHARDLAB_SOURCE_DIR "/docs/results";
  for (const std::string& problem : check_published(docs, SHARDLAB_SOURCE_DIR "/README.md")) ADD_FAILURE() << problem;
  if (!fs::is_directory(docs)) return;
  const std::vector<std::string> names = recipe_names();
  for (const auto& e : fs::directory_iterator(docs)) {
    if (e.path().extension() != ".json") continue;
    EXPECT_NE(std::find(names.begin(), names.end(), e.path().stem().string()), names.end())
        << e.path() << " is no recipe's result";
  }
}

// A result published from a folder, then a number on its page changed by hand: the check says so,
// and a missing figure too.
TEST(Reproduce, CheckFindsAPageEditedByHand) {
  const std::string dir = test::make_temp_dir(), docs = test::make_temp_dir();
  Json r;
  r["recipe"] = "toy";
  r["title"] = "A toy result";
  r["scale"] = "full";
  r["command"] = "shardlab reproduce toy";
  r["commit"] = "0123456789ab";
  r["date"] = "2026-12-06T00:00:00Z";
  r["machine"] = {{"cpu", "a CPU"}, {"cores", 2}};
  r["wall_minutes"] = 1.5;
  r["training_code"] = "x";
  r["runs"] = Json::array();
  r["commands"] = {"shardlab eval run --out eval.json"};
  r["about"] = "Cheese {eval.json:cheese_rate}.";
  r["tables"] = Json::array({{{"name", "t"},
                              {"title", "T"},
                              {"caption", ""},
                              {"columns", {"a", "b"}},
                              {"rows", Json::array({Json::array({"x", "{eval.json:cheese_rate|2}"})})}}});
  r["figures"] = Json::array({{{"name", "f"}, {"file", "pics/f.svg"}, {"caption", "F"}}});
  r["numbers"] = {{"eval.json:cheese_rate", {{"value", 0.906}, {"ci95", {0.877, 0.929}}}}};
  test::write_file(dir + "/result.json", r.dump(2));
  fs::create_directories(dir + "/pics");
  test::write_file(dir + "/pics/f.svg", "<svg/>");
  const std::string page = publish_result(dir, docs);
  EXPECT_TRUE(check_published(docs).empty());
  const std::string text = test::read_file(page);
  EXPECT_NE(text.find("Cheese 0.906 [0.877, 0.929]."), std::string::npos) << text;
  EXPECT_NE(text.find("| x | 0.91 [0.88, 0.93] |"), std::string::npos) << text;
  EXPECT_NE(text.find("![f](toy/pics_f.svg)"), std::string::npos) << text;
  // The machine: its name and cores (all pages before 2026-12-07's evening record only these), and
  // since then the CPU's family and model and OpenBLAS's kernels, which decide the linear layers' sums.
  EXPECT_NE(text.find(" on a CPU (2 cores) after 1.5 minutes."), std::string::npos) << text;
  Json detailed = r;
  detailed["machine"] = {
      {"cpu", "a CPU"}, {"cores", 2}, {"cpu_family", "26, model 2"}, {"blas_kernels", "OpenBLAS Haswell"}};
  test::write_file(dir + "/result.json", detailed.dump(2));
  EXPECT_NE(test::read_file(publish_result(dir, docs))
                .find(" on a CPU (CPU family 26, model 2; OpenBLAS Haswell kernels; 2 cores) after"),
            std::string::npos);
  test::write_file(dir + "/result.json", r.dump(2));
  publish_result(dir, docs);
  std::string edited = text;
  edited.replace(edited.find("0.906"), 5, "0.950");
  test::write_file(page, edited);
  ASSERT_EQ(check_published(docs).size(), 1u);
  EXPECT_NE(check_published(docs)[0].find("differs"), std::string::npos);
  test::write_file(page, text);
  fs::remove(docs + "/toy/pics_f.svg");
  ASSERT_EQ(check_published(docs).size(), 1u);
  EXPECT_NE(check_published(docs)[0].find("pics_f.svg is missing"), std::string::npos);
  // A README quoting the table gets it on publishing; edited by hand, the check says so.
  const std::string readme = dir + "/README.md";
  test::write_file(readme, "Intro\n<!-- result toy t -->\nold\n<!-- end result -->\nEnd\n");
  publish_result(dir, docs, readme);
  EXPECT_EQ(
      test::read_file(readme),
      "Intro\n<!-- result toy t -->\n| a | b |\n|---|---|\n| x | 0.91 [0.88, 0.93] |\n<!-- end result -->\nEnd\n");
  EXPECT_TRUE(check_published(docs, readme).empty());
  test::write_file(readme, "Intro\n<!-- result toy t -->\n| a | b |\n|---|---|\n| x | 0.99 |\n<!-- end result -->\n");
  ASSERT_EQ(check_published(docs, readme).size(), 1u);
  EXPECT_NE(check_published(docs, readme)[0].find("quoted table differs"), std::string::npos);
  // A smoke result is never published.
  r["scale"] = "smoke";
  test::write_file(dir + "/result.json", r.dump(2));
  EXPECT_THROW(publish_result(dir, docs), InputError);
}

// What is wrong with a recipe is one error naming its file and line.
TEST(Reproduce, BadRecipesNameTheirLine) {
  const std::string dir = test::make_temp_dir();
  const std::string good =
      "[recipe]\ntitle = T\n[run.a]\nspec = experiments/ppo_maze_smoke.ini\n"
      "[step.e]\ncommand = eval {a} --out {out}/e.json\nmakes = e.json\n";
  test::write_file(dir + "/good.ini", good);
  EXPECT_EQ(read_recipe(dir + "/good.ini").steps.size(), 1u);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {good + "colour = red\n", "good.ini:8: unknown key 'colour'"},
      {good + "[step.f]\ncommand = eval {b}\nmakes = f.json\n", "{b}: no run or scale value"},
      {good + "[step.f]\ncommand = eval {a}\n", "[step.f] has no makes"},
      {good + "[step.f]\ncommand = eval {a}\nmakes = f.json\nafter = f\n", "after: 'f' is no step above it"},
      {good + "[step.f]\ncommand = eval {a}\nmakes = f.json\nafter = g\n", "after: 'g' is no step above it"},
      {good + "[step.f]\ncommand = eval {a}\nmakes = ../f.json\n", "not a relative path inside"},
      {good + "[run.b]\nspec = experiments/nope.ini\n", "no file experiments/nope.ini"},
      {good + "[table.t]\ncolumns = a | b\nrow = 1 | 2 | 3\n", "row: 3 cells, but 2 columns"},
      {good + "[scale]\nepisodes = 500\n", "expected NAME = FULL | SMOKE"},
      {good + "[widget.x]\nsize = 1\n", "expected [recipe], [scale]"},
      {good + "not a line\n", "good.ini:8: expected `[section]` or `key = value`"},
      {"[recipe]\ntitle = T\n", "no [step.NAME]"},
  };
  for (const auto& [text, needle] : cases) {
    test::write_file(dir + "/good.ini", text);
    try {
      read_recipe(dir + "/good.ini");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

// Bad names and flags are one line and exit 2; a folder that is not a recipe's, or one holding
// another scale's results, is refused and left as it was.
TEST(Reproduce, BadRequestsAreOneLineAndKeepWhatIsThere) {
  const std::string out = test::make_temp_dir();
  test::expect_one_line_error(run_cli("reproduce nosuch --smoke --out " + out), "no recipe 'nosuch' (the recipes: ");
  test::expect_one_line_error(run_cli("reproduce demo --smoke --publish --out " + out), "never published");
  test::expect_one_line_error(run_cli("reproduce --out " + out), "expected recipe names");
  test::expect_one_line_error(run_cli("reproduce demo --smoke --jobs 0 --out " + out), "--jobs");
  fs::create_directories(out + "/reinforce_maze");
  test::write_file(out + "/reinforce_maze/notes.txt", "mine");
  test::expect_one_line_error(run_cli("reproduce reinforce_maze --smoke --out " + out), "not a recipe's folder",
                              /*after_progress=*/true);
  EXPECT_EQ(test::read_file(out + "/reinforce_maze/notes.txt"), "mine");
  fs::remove_all(out + "/reinforce_maze");
  ASSERT_EQ(run_cli("reproduce reinforce_maze --smoke --out " + out).exit_code, 0);
  Json marker = Json::parse(test::read_file(out + "/reinforce_maze/recipe.json"));
  marker["scale"] = "full";
  test::write_file(out + "/reinforce_maze/recipe.json", marker.dump());
  test::expect_one_line_error(run_cli("reproduce reinforce_maze --smoke --out " + out), "add --fresh",
                              /*after_progress=*/true);
  EXPECT_TRUE(fs::is_regular_file(out + "/reinforce_maze/trained.json"));
  const auto fresh = run_cli("reproduce reinforce_maze --smoke --fresh --out " + out);
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(Json::parse(test::read_file(out + "/reinforce_maze/recipe.json"))["scale"], "smoke");
  // `--list` names every recipe.
  const auto list = run_cli("reproduce --list");
  ASSERT_EQ(list.exit_code, 0);
  for (const std::string& name : recipe_names()) EXPECT_NE(list.out.find(name + " "), std::string::npos) << name;
}

// A recipe of one's own (a file): a step that fails is named with its log, exit 1, and the steps
// that finished stay finished.
TEST(Reproduce, AFailedStepIsNamedWithItsLog) {
  const std::string out = test::make_temp_dir();
  test::write_file(out + "/mine.ini",
                   "[recipe]\ntitle = Mine\n[step.random]\ncommand = eval --env maze --policy random --episodes 2 "
                   "--out {out}/random.json\nmakes = random.json\n[step.broken]\ncommand = eval " +
                       out + "/no_such_run --out {out}/broken.json\nmakes = broken.json\n");
  const auto r = run_cli("reproduce " + out + "/mine.ini --jobs 1 --out " + out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("first broken (see " + out + "/mine/logs/broken.log)"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out + "/mine/random.json"));
  EXPECT_FALSE(fs::exists(out + "/mine/result.json"));
}

// A step that reads what another writes waits for it when it names it in `after`, even with both
// jobs free: the relabeling starts only once the collected file is complete.
TEST(Reproduce, AfterRunsAStepOnceTheStepsItNamesHaveFinished) {
  const std::string out = test::make_temp_dir();
  test::write_file(out + "/mine.ini",
                   "[recipe]\ntitle = Mine\n[step.collect]\ncommand = collect --env maze --policy random --steps "
                   "3000 --out {out}/d.h5\nmakes = d.h5\n[step.relabel]\ncommand = relabel {out}/d.h5 {out}/z.h5 "
                   "--reward zero\nmakes = z.h5\nafter = collect\n");
  const auto r = run_cli("reproduce " + out + "/mine.ini --jobs 2 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out + "/mine/z.h5"));
  EXPECT_NE(r.err.find("mine steps-2: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shardlab
