// `shardlab report DIR` (cli/cmd_report.cpp, core/html.h): one HTML file that references nothing
// outside itself, for run, demo, sweep and ablation folders; bad folders are one error line and
// write nothing; and, where Chromium is installed, the page loads with every picture decoded and no
// script error.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "experiments/ablation.h"
#include "experiments/schema.h"
#include "experiments/sweep.h"
#include "media/png.h"
#include "report/html.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_cli;

using test::kSmoke;

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A 2 x 1 GIF (two colours, one frame), written out byte by byte: no encoder involved.
std::string tiny_gif() {
  const unsigned char bytes[] = {'G',  'I',  'F',  '8',  '9',  'a',  2, 0, 1, 0, 0x80, 0, 0,  // screen, 2 colours
                                 0xff, 0xcc, 0x00, 0x00, 0x33, 0x99,                          // the palette
                                 0x2c, 0,    0,    0,    0,    2,    0, 1, 0, 0,              // the image
                                 2,    2,    0x44, 0x0a, 0,                                   // LZW: clear 0 1 end
                                 0x3b};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

void write_picture_png(const std::string& path) {
  const int h = 24, w = 32;
  std::vector<float> chw(3 * h * w);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < h * w; ++i) chw[c * h * w + i] = static_cast<float>((i % w) * (c + 1) % 7) / 6.0f;
  fs::create_directories(fs::path(path).parent_path());
  write_png(path, chw.data(), h, w);
}

std::string eval_json(int episodes, double ret, double cheese, const std::string& placement) {
  return nlohmann::ordered_json{{"episodes", episodes},   {"mean_return", ret},
                                {"std_return", 1.5},      {"mean_length", 40.25},
                                {"cheese_rate", cheese},  {"cheese_rate_ci95", {cheese - 0.1, cheese + 0.05}},
                                {"corner_rate", 0.25},    {"corner_rate_ci95", {0.2, 0.3}},
                                {"placement", placement}, {"checkpoint", "x/checkpoints/update_0000060.pt"}}
      .dump(2);
}

// A run folder written by hand: what a 60-update PPO run leaves (spec, run.json, metrics.csv,
// a checkpoint), plus an eval, a video and analysis results, and a data file.
std::string fake_run(const std::string& root, const std::string& name) {
  const std::string dir = root + "/" + name;
  const auto spec = run_cli("spec show " + kSmoke);
  EXPECT_EQ(spec.exit_code, 0) << spec.err;
  write(dir + "/spec.ini", spec.out);
  write(dir + "/run.json",
        nlohmann::ordered_json{{"shardlab_version", "0.1.0"},
                               {"seed", 1},
                               {"threads", 1},
                               {"device", "cpu"},
                               {"algo", "ppo"},
                               {"batch_size", 1024},
                               {"num_updates", 60},
                               {"world_size", 1},
                               {"history", {{{"event", "start"}, {"time", "2026-01-02T03:04:05Z"}, {"update", 0}}}}}
            .dump(2));
  std::string metrics =
      "global_step,update,time_s,charts/SPS,charts/learning_rate,charts/episodes,charts/episodic_return,"
      "charts/episodic_length,charts/cheese_rate,charts/corner_rate,losses/policy_loss,losses/value_loss\n";
  for (int u = 1; u <= 60; ++u) {
    const bool episodes = u % 3 != 0;  // some updates finish no episode: empty cells
    metrics += std::to_string(u * 1024) + "," + std::to_string(u) + "," + std::to_string(u * 0.5) + ",2000,0.0005," +
               (episodes ? "4," + std::to_string(u / 6.0) + ",50," + std::to_string(u / 60.0) + ",0.2" : "0,,,,") +
               "," + std::to_string(1.0 / u) + "," + std::to_string(2.0 / u) + "\n";
  }
  write(dir + "/metrics.csv", metrics);
  write(dir + "/checkpoints/update_0000060.pt", "not really a checkpoint");
  write(dir + "/experience.h5", std::string(2000, 'x'));
  write(dir + "/eval_uniform.json", eval_json(40, 7.5, 0.812, "uniform"));
  write(dir + "/videos/episode_0000.gif", tiny_gif());
  std::string channels = "channel,score,at_cheese\n";
  for (int c = 0; c < 150; ++c) channels += std::to_string(c) + "," + std::to_string(c / 150.0) + ",1\n";
  write(dir + "/analysis/channels.csv", channels);
  write(dir + "/analysis/cheese_vector_summary.json",
        R"({"checkpoint": "c.pt", "steering": {"coeff": -1, "layer": "embedder.block2.res1.resadd_out"},
            "mazes": 12, "p_cheese": [0.5, 0.25]})");
  write(dir + "/analysis/notes.md", "# Cheese vector\n\n| coeff | p |\n|---|---|\n| -1 | 0.25 |\n");
  write_picture_png(dir + "/analysis/channels_top.png");
  write(dir + "/analysis/vector_field.svg",
        "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'><defs><clipPath id='c'><rect width='40' "
        "height='20'/></clipPath></defs><rect id='r' width='40' height='20' fill='#3a7' clip-path='url(#c)'/></svg>");
  return dir;
}

// Every file under `dir`, relative.
std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).string());
  return out;
}

// Fails the test for any reference out of the page: every src= / href= is data: or #, no url()
// other than a fragment, no scheme anywhere, no <link>, <iframe>, <object> or external script.
void expect_self_contained(const std::string& html) {
  const std::regex attribute(R"re(\b(src|href|xlink:href|poster|action)\s*=\s*(['"])(.*?)\2)re", std::regex::icase);
  int checked = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attribute); it != std::sregex_iterator(); ++it) {
    const std::string value = (*it)[3].str();
    EXPECT_TRUE(value.rfind("data:", 0) == 0 || value.rfind("#", 0) == 0)
        << (*it)[1].str() << "=" << value.substr(0, 80);
    ++checked;
  }
  EXPECT_GT(checked, 0);
  const std::regex unquoted(R"re(\b(src|href)\s*=\s*[^'"\s])re", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, unquoted));
  for (const char* bad : {"http:", "https:", "file:", "<link", "<iframe", "<object", "<embed", "@import"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  const std::regex url(R"re(url\(\s*['"]?([^)'"]*))re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), url); it != std::sregex_iterator(); ++it)
    EXPECT_EQ((*it)[1].str().rfind("#", 0), 0u) << "url(" << (*it)[1].str();
  EXPECT_EQ(html.find("<script src"), std::string::npos);
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(Report, HtmlPiecesEscapeEncodeAndParse) {
  EXPECT_EQ(html::escaped("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html::base64(""), "");
  EXPECT_EQ(html::base64("f"), "Zg==");
  EXPECT_EQ(html::base64("fo"), "Zm8=");
  EXPECT_EQ(html::base64("foo"), "Zm9v");
  EXPECT_EQ(html::base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(html::base64(std::string("\xff\x00\xfe", 3)), "/wD+");
  EXPECT_EQ(html::media_type("a/B.GIF"), "image/gif");
  EXPECT_EQ(html::media_type("x.mp4"), "video/mp4");
  EXPECT_EQ(html::media_type("x.h5"), "");
  const auto rows = html::csv_rows("a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\n1,2,3");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::vector<std::string>{"x, y", "say \"hi\"", ""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"1", "2", "3"}));
  const std::string table = html::csv_table("k,v\n1,2\n3,4\n5,6\n", 2);
  EXPECT_EQ(count(table, "<tr>"), 3u);  // the header and two rows
  EXPECT_NE(table.find("The first 2 of 3 rows"), std::string::npos);
  const std::string md = html::markdown("# Title\n\nSome `code` & **bold**.\n\n| a | b |\n|---|---|\n| 1 | <2> |\n", 2);
  EXPECT_NE(md.find("<h3>Title</h3>"), std::string::npos) << md;
  EXPECT_NE(md.find("<code>code</code> &amp; <strong>bold</strong>"), std::string::npos) << md;
  EXPECT_NE(md.find("<th>a</th><th>b</th>"), std::string::npos) << md;
  EXPECT_NE(md.find("<td>&lt;2&gt;</td>"), std::string::npos) << md;
  EXPECT_EQ(md.find("---"), std::string::npos) << md;
  const std::string svg = html::inline_svg("<svg xmlns='http://www.w3.org/2000/svg' width='30' height='10'><g/></svg>");
  EXPECT_EQ(svg, "<svg width='30' height='10' viewBox='0 0 30 10'><g/></svg>");
}

TEST(Report, RunFolderGivesOneSelfContainedPage) {
  const std::string root = test::make_temp_dir();
  const std::string run = fake_run(root, "ppo_maze_smoke");
  const auto before = listing(run);
  const auto r = run_cli("report " + run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + run + "/report.html"), std::string::npos) << r.out;
  auto after = listing(run);
  after.erase("report.html");
  EXPECT_EQ(after, before);  // one file, nothing else written

  const std::string html = test::read_file(run + "/report.html");
  expect_self_contained(html);
  // Header, contents, the run's facts and spec (changed keys and the whole file).
  for (const char* text :
       {"<title>shardlab report: ppo_maze_smoke</title>", "<nav class='toc'>", "Run ppo_maze_smoke", "batch_size",
        "start 2026-01-02T03:04:05Z at update 0", "<td>env.placement</td><td>top_right_region:5</td><td>uniform</td>",
        "The whole resolved spec", "[ppo]", "update_0000060.pt"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  // The curves: inline SVG charts with their titles and panels.
  for (const char* text : {"Returns and outcomes of ppo_maze_smoke", "Losses of ppo_maze_smoke",
                           "charts/cheese_rate, running mean over 10 updates", "losses/value_loss",
                           "charts/episodic_length", "environment steps (global_step)"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_GE(count(html, "<svg "), 3u);
  EXPECT_EQ(count(html, "xmlns="), 0u);
  // The evaluation, with its intervals.
  EXPECT_NE(html.find("<td>cheese_rate</td><td>0.812 [0.712, 0.862]</td>"), std::string::npos);
  EXPECT_NE(html.find(">uniform<"), std::string::npos);
  // Analysis results: the CSV capped, the JSON flattened, Markdown as a table, every picture embedded.
  EXPECT_NE(html.find("<th>channel</th><th>score</th><th>at_cheese</th>"), std::string::npos);
  EXPECT_NE(html.find("The first 100 of 150 rows"), std::string::npos);
  EXPECT_NE(html.find("<td>steering.layer</td><td>embedder.block2.res1.resadd_out</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>p_cheese</td><td>[0.5, 0.25]</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>coeff</th><th>p</th>"), std::string::npos);
  EXPECT_EQ(count(html, "src='data:image/png;base64,"), 1u);
  EXPECT_EQ(count(html, "src='data:image/gif;base64,"), 1u);
  EXPECT_EQ(count(html, "src='data:image/svg+xml;base64,"), 1u);
  for (const char* caption : {"videos/episode_0000.gif", "analysis/channels_top.png", "analysis/vector_field.svg"})
    EXPECT_NE(html.find(caption), std::string::npos) << caption;
  EXPECT_NE(html.find("Not embedded: experience.h5"), std::string::npos);
  EXPECT_EQ(html.find("not really a checkpoint"), std::string::npos);

  // An existing report is kept without --force; --out puts it anywhere.
  expect_one_line_error(run_cli("report " + run), "--force");
  EXPECT_EQ(test::read_file(run + "/report.html"), html);
  EXPECT_EQ(run_cli("report " + run + " --force").exit_code, 0);
  const auto elsewhere = run_cli("report " + run + " --out " + root + "/r.html");
  EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_NE(test::read_file(root + "/r.html").find("Losses of ppo_maze_smoke"), std::string::npos);
}

TEST(Report, DemoFolderGivesTheRunItsEvaluationsAndAnalysis) {
  const std::string demo = test::make_temp_dir() + "/demo";
  fake_run(demo, "ppo_maze_demo");
  write(demo + "/eval_train.json", eval_json(200, 9.5, 0.95, "top_right_region:5"));
  write(demo + "/eval_uniform.json", eval_json(200, 4.5, 0.45, "uniform"));
  fs::last_write_time(demo + "/eval_train.json",
                      fs::last_write_time(demo + "/eval_uniform.json") - std::chrono::hours(1));
  write_picture_png(demo + "/mazes.png");
  write(demo + "/analysis/cheese_vector.csv", "seed,p_before,p_after\n0,0.5,0.25\n1,0.75,0.5\n");
  write(demo + "/random_maze.h5", "data");
  const auto r = run_cli("report " + demo);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = test::read_file(demo + "/report.html");
  expect_self_contained(html);
  for (const char* text : {"Run demo/ppo_maze_demo", "Results in demo/", "Results in demo/analysis/",
                           "<th>seed</th><th>p_before</th><th>p_after</th>", "eval_train.json", "eval_uniform.json",
                           "<th>eval_uniform.json (latest)</th><th>eval_train.json</th>",
                           "<td>cheese_rate</td><td>0.45 [0.35, 0.5]</td><td>0.95 [0.85, 1]</td>", "mazes.png",
                           "random_maze.h5", "Returns and outcomes of ppo_maze_demo"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  // The run comes before the folder's other results; the run's own analysis stays in its section.
  EXPECT_LT(html.find("<h2>Run demo/ppo_maze_demo</h2>"), html.find("<h2>Results in demo/</h2>"));
  EXPECT_EQ(count(html, "src='data:image/png;base64,"), 2u);
  // The contents link to every section, each id once.
  const std::regex link(R"re(href='#([^']+)')re");
  std::set<std::string> targets;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), link); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ(count(html, "<section id='" + (*it)[1].str() + "'>"), 1u) << (*it)[1].str();
    targets.insert((*it)[1].str());
  }
  EXPECT_GE(targets.size(), 6u);
}

TEST(Report, SweepFolderGivesItsTableChartAndCells) {
  const std::string dir = test::make_temp_dir() + "/sweep";
  SweepRequest request;
  request.spec = kSmoke;
  request.seeds = "0:2";
  request.grid = {"ppo.clip_coef=0.1,0.2"};
  request.out = dir;
  request.command = {"shardlab", "sweep", "(test)"};
  const SweepPlan plan = prepare_sweep(request);
  ASSERT_EQ(plan.cells.size(), 4u);
  const std::map<std::string, double> returns = {
      {"clip_coef_0.1-s0", 1}, {"clip_coef_0.1-s1", 3}, {"clip_coef_0.2-s0", 5}};
  for (const SweepCell& cell : plan.cells)
    if (returns.count(cell.name)) write(plan.eval_path(cell), eval_json(8, returns.at(cell.name), 0.5, "uniform"));

  // Before `sweep summarize`: the cells and their status from grid.json, and what makes the summary.
  auto r = run_cli("report " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string html = test::read_file(dir + "/report.html");
  expect_self_contained(html);
  for (const char* text :
       {"Sweep sweep", "shardlab sweep (test)", "runs (4), summary (1)", "3 of 4 cells finished",
        "<td>clip_coef_0.2-s1</td><td>runs</td><td>not started</td>", "Not summarized yet", "Spec of every cell"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_EQ(count(html, "src='data:image/svg+xml;base64,"), 0u);

  summarize_sweep(dir, "mean_return");
  r = run_cli("report " + dir + " --force");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  html = test::read_file(dir + "/report.html");
  expect_self_contained(html);
  for (const char* text : {"<td>0.1</td><td>2</td><td>2.00 ± 12.71</td>", "summary.svg", "summary.csv",
                           "cells.csv (one row per cell)", "Missing (not finished): clip_coef_0.2-s1"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_EQ(html.find("Not summarized yet"), std::string::npos);
  EXPECT_EQ(count(html, "src='data:image/svg+xml;base64,"), 1u);
  // The cells' run folders are listed, not given a section each.
  EXPECT_EQ(html.find("Run sweep/runs/"), std::string::npos);
}

TEST(Report, AblationFolderGivesItsTableChartAndCells) {
  const std::string root = test::make_temp_dir(), dir = root + "/survival_instinct";
  write(root + "/grid.ini", "[ablate]\nout = " + dir +
                                "\ntasks = maze\ndatasets = medium-replay\nalgos = iql\nrewards = true,zero\n"
                                "seeds = 0:1\nbc = false\n");
  {
    const AblationGrid prepared = prepare_ablation(Spec::load(shardlab_schema(), root + "/grid.ini", {}), "grid.ini");
    EXPECT_EQ(prepared.grid.stages.size(), 3u);
  }  // the grid's lock is let go
  write(dir + "/ablation.md",
        "# Survival instinct: normalized scores\n\nMean over seeds.\n\n| dataset | BC | iql true | iql zero |\n"
        "|---|---|---|---|\n| maze-medium-replay | 41.0 ± 3.0 | 55.5 ± 2.0 | 52.25 ± 4.0 |\n");
  write(dir + "/cells.csv",
        "cell,task,dataset,algo,reward,seed,normalized_score\nmaze-medium-replay-iql-true-s0,maze,"
        "medium-replay,iql,true,0,55.5\n");
  write(dir + "/ablation.svg",
        "<svg xmlns='http://www.w3.org/2000/svg' width='60' height='30'><rect width='60' "
        "height='30' fill='#17becf'/></svg>");
  write(dir + "/datasets/maze-medium-replay.h5", std::string(3000, 'd'));
  const std::string cell = fake_run(dir + "/runs", "maze-medium-replay-iql-true-s0");
  write(cell + "/result.json", R"({"seed": 0, "evaluation": {"normalized_score": 55.5, "mean_return": 8.1}})");
  fake_run(dir + "/runs", "maze-medium-replay-iql-zero-s0");
  write(dir + "/logs/maze-medium-replay-iql-zero-s0.log", "training\n");
  const auto r = run_cli("report " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = test::read_file(dir + "/report.html");
  expect_self_contained(html);
  for (const char* text :
       {"Ablation survival_instinct", "<th>iql zero</th>", "<td>52.25 ± 4.0</td>",
        "datasets (1), runs (2), summary (1)", "<td>maze-datasets</td><td>datasets</td><td>finished</td>",
        "<td>maze-medium-replay-iql-true-s0</td><td>runs</td><td>finished</td>",
        "<td>maze-medium-replay-iql-zero-s0</td><td>runs</td><td>started, not finished</td>",
        "cells.csv (one row per cell)", "2 of 3 cells finished"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_EQ(count(html, "src='data:image/svg+xml;base64,"), 1u);
  EXPECT_EQ(html.find("Run survival_instinct/runs/"), std::string::npos);
}

TEST(Report, BadFolderGivesOneLineAndWritesNothing) {
  const std::string root = test::make_temp_dir();
  expect_one_line_error(run_cli("report " + root + "/missing"), "no folder " + root + "/missing");
  write(root + "/file.txt", "x");
  expect_one_line_error(run_cli("report " + root + "/file.txt"), "is not a folder");
  fs::create_directories(root + "/empty");
  expect_one_line_error(run_cli("report " + root + "/empty"), "not a run, demo, sweep or ablation folder");
  EXPECT_TRUE(fs::is_empty(root + "/empty"));
  // Pictures and tables alone do not make a run.
  write(root + "/loose/a.csv", "a,b\n1,2\n");
  write_picture_png(root + "/loose/p.png");
  const auto before = listing(root);
  expect_one_line_error(run_cli("report " + root + "/loose --out " + root + "/r.html"), "not a run");
  expect_one_line_error(run_cli("report"), "expected the folder DIR");
  expect_one_line_error(run_cli("report " + root + "/loose --colour red"), "colour");
  EXPECT_EQ(listing(root), before);
}

TEST(Report, RealSmokeRunWithItsEvaluation) {
  const std::string out = test::make_temp_dir();
  const auto t = run_cli("train " + kSmoke + " --set train.total_steps=4096 --out " + out);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const std::string run = out + "/ppo_maze_smoke";
  const auto e = run_cli("eval " + run + " --episodes 8 --out " + run + "/eval.json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto r = run_cli("report " + run);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = test::read_file(run + "/report.html");
  expect_self_contained(html);
  for (const char* text : {"Returns and outcomes of ppo_maze_smoke", "Losses of ppo_maze_smoke", "losses/approx_kl",
                           "<td>updates logged</td><td>4</td>", "<td>algo</td><td>ppo</td>", "eval.json", "cheese_rate",
                           "update_0000004.pt"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
}

// The value of attribute `name` on the <body> tag of a DOM dump, or "(none)".
std::string body_attribute(const std::string& dom, const std::string& name) {
  const size_t body = dom.find("<body");
  if (body == std::string::npos) return "(no body)";
  const std::string tag = dom.substr(body, dom.find('>', body) - body);
  std::smatch match;
  if (!std::regex_search(tag, match, std::regex(name + "=\"([^\"]*)\""))) return "(none)";
  return match[1].str();
}

TEST(Report, OpensInChromiumWithEveryPictureDecodedAndNoScriptError) {
  if (test::run_shell("command -v chromium").exit_code != 0)
    GTEST_SKIP() << "chromium is not on PATH (scripts/install-deps.sh installs it); the browser check is skipped";
  const std::string root = test::make_temp_dir();
  const std::string demo = root + "/demo";
  fake_run(demo, "ppo_maze_demo");
  write_picture_png(demo + "/mazes.png");
  // An MP4 of `render` (when this build writes MP4: ffmpeg's libraries), embedded as <video>.
  const auto mp4 = run_cli("render --env maze --policy random --set env.max_episode_steps=30 --out " + demo +
                           "/ppo_maze_demo/videos/episode.mp4");
  const size_t videos = mp4.exit_code == 0 ? 1 : 0;
  if (!videos) std::cerr << "render wrote no MP4 here (" << mp4.err << "); the report's video is not checked\n";
  ASSERT_EQ(run_cli("report " + demo).exit_code, 0);
  const std::string page = demo + "/report.html";
  const std::string html = test::read_file(page);
  const size_t images = count(html, "<img ");
  ASSERT_EQ(images, 4u);  // mazes.png, the GIF, the channels PNG and the vector field SVG
  ASSERT_EQ(count(html, "<video controls muted loop preload='metadata' src='data:video/mp4;base64,"), videos);

  const std::string chromium =
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --no-first-run "
      "--user-data-dir=" +
      root + "/profile --virtual-time-budget=5000 ";
  const auto dom = test::run_shell(chromium + "--dump-dom file://" + page);
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  EXPECT_EQ(body_attribute(dom.out, "data-checked"), "1") << dom.out.substr(0, 2000);
  EXPECT_EQ(body_attribute(dom.out, "data-images"), std::to_string(images) + "/" + std::to_string(images));
  EXPECT_EQ(body_attribute(dom.out, "data-videos"), std::to_string(videos) + "/" + std::to_string(videos));
  EXPECT_EQ(body_attribute(dom.out, "data-errors"), "0");

  const std::string shot = root + "/report.png";
  const auto s = test::run_shell(chromium + "--screenshot=" + shot + " --window-size=1200,2000 file://" + page);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const std::string png = test::read_file(shot);
  ASSERT_GT(png.size(), 20000u);  // a page of text and charts, not a blank one
  ASSERT_EQ(png.substr(1, 3), "PNG");
  auto be32 = [&](size_t at) {
    return (static_cast<uint32_t>(static_cast<uint8_t>(png[at])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(png[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(png[at + 2])) << 8) | static_cast<uint8_t>(png[at + 3]);
  };
  EXPECT_EQ(be32(16), 1200u);  // IHDR width and height
  EXPECT_EQ(be32(20), 2000u);
}

}  // namespace
}  // namespace shardlab
