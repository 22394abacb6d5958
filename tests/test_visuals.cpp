// Training curves (`shardlab plot`, media/line_chart.h) and videos (`shardlab render --out FILE.gif`,
// media/gif.h): the SVG parses as XML with its titles, axis titles, legend and one path per series;
// the GIF decodes with giflib.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/metrics_csv.h"
#include "core/statistics.h"
#include "media/gif.h"
#include "tests/decoded_gif.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_cli;

using test::write_file;

// A run folder holding only `metrics` as its metrics.csv.
std::string make_run(const std::string& root, const std::string& name, const std::string& metrics) {
  fs::create_directories(root + "/" + name);
  write_file(root + "/" + name + "/metrics.csv", metrics);
  return root + "/" + name;
}

// The SVG as python3's xml.etree reads it (so it is well-formed XML): every text, and every path
// with its class and the points of its d attribute, one list per subpath.
nlohmann::json parse_svg(const std::string& path) {
  const std::string script = fs::path(path).parent_path().string() + "/parse_svg.py";
  write_file(script, R"(import json, re, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
assert root.tag == ns + 'svg', root.tag
paths = []
for p in root.iter(ns + 'path'):
    subpaths = [[[float(v) for v in point.split(',')] for point in re.findall(r'[-0-9.e]+,[-0-9.e]+', s)]
                for s in p.get('d').split('M')[1:]]
    paths.append({'class': p.get('class'), 'subpaths': subpaths})
print(json.dumps({'texts': [t.text for t in root.iter(ns + 'text')], 'paths': paths}))
)");
  const auto r = test::run_shell("python3 " + script + " " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::vector<nlohmann::json> paths_of(const nlohmann::json& svg, const std::string& cls) {
  std::vector<nlohmann::json> out;
  for (const auto& p : svg["paths"])
    if (p["class"] == cls) out.push_back(p);
  return out;
}

bool has_text(const nlohmann::json& svg, const std::string& text) {
  for (const auto& t : svg["texts"])
    if (t.is_string() && t.get<std::string>() == text) return true;
  return false;
}

// Pixel heights are an affine map of the values (the panel's y scale): checks that `pixels` are
// that map of `values`, fixed by the first two distinct values.
void expect_affine(const std::vector<double>& values, const std::vector<double>& pixels) {
  ASSERT_EQ(values.size(), pixels.size());
  size_t j = 1;
  while (j < values.size() && values[j] == values[0]) ++j;
  ASSERT_LT(j, values.size());
  const double slope = (pixels[j] - pixels[0]) / (values[j] - values[0]);
  EXPECT_LT(slope, 0);  // larger values higher up
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(pixels[i], pixels[0] + slope * (values[i] - values[0]), 0.02) << i;
}

std::vector<double> ys(const nlohmann::json& subpath) {
  std::vector<double> out;
  for (const auto& point : subpath) out.push_back(point[1].get<double>());
  return out;
}

TEST(TrainingCurves, TrailingMeanWeighsByEpisodesAndSkipsGaps) {
  const double nan = std::nan("");
  // Window 2: (1*1)/1, (1*1 + 3*3)/4, (3*3)/3 (the NaN left out), (5*1)/1 (weight 0 left out), NaN.
  const std::vector<double> values = {1, 3, nan, 5, 7}, weights = {1, 3, 2, 1, 0};
  const std::vector<double> smooth = trailing_mean(values, weights, 2);
  ASSERT_EQ(smooth.size(), 5u);
  EXPECT_DOUBLE_EQ(smooth[0], 1.0);
  EXPECT_DOUBLE_EQ(smooth[1], 2.5);
  EXPECT_DOUBLE_EQ(smooth[2], 3.0);
  EXPECT_DOUBLE_EQ(smooth[3], 5.0);
  EXPECT_DOUBLE_EQ(smooth[4], 5.0);
  EXPECT_TRUE(std::isnan(trailing_mean({nan, 1}, {1, 0}, 1)[1]));
  EXPECT_DOUBLE_EQ(trailing_mean({2, 4, 6}, {}, 10)[2], 4.0);  // no weights: all 1
}

TEST(TrainingCurves, MetricsCsvReadsBackAndNamesABadCell) {
  const std::string dir = test::make_temp_dir();
  write_file(dir + "/m.csv", "global_step,charts/x\n10,1.5\n20,\n30,2");  // a partial last row
  const MetricsTable table = read_metrics_csv(dir + "/m.csv");
  EXPECT_EQ(table.names, (std::vector<std::string>{"global_step", "charts/x"}));
  ASSERT_EQ(table.rows(), 2u);
  EXPECT_EQ(table.columns.at("charts/x")[0], 1.5);
  EXPECT_TRUE(std::isnan(table.columns.at("charts/x")[1]));
  write_file(dir + "/bad.csv", "global_step,charts/x\n10,1.5\n20,fast\n");
  try {
    read_metrics_csv(dir + "/bad.csv");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3, column charts/x: 'fast' is not a number"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_metrics_csv(dir + "/missing.csv"), FileError);
}

const char* kMetrics =
    "global_step,charts/episodes,charts/episodic_return,charts/cheese_rate,charts/corner_rate,losses/value\n"
    "100,2,1,0.5,0.25,9\n"
    "200,0,,,,8\n"
    "300,1,4,1,0,7\n"
    "400,3,2,0,0.5,6\n";

TEST(TrainingCurves, OneRunIsWellFormedSvgWithTitlesAxisTitlesAndItsSmoothedCurves) {
  const std::string dir = test::make_temp_dir();
  const std::string run = make_run(dir, "ppo-s1", kMetrics);
  const auto r = run_cli("plot " + run + " --smooth 2 --out " + dir + "/curves.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + dir + "/curves.svg (3 columns of 1 run, 4 points each)"), std::string::npos) << r.out;
  const nlohmann::json svg = parse_svg(dir + "/curves.svg");
  for (const char* text : {"Training curves of ppo-s1", "charts/episodic_return, running mean over 2 updates",
                           "charts/cheese_rate, running mean over 2 updates", "environment steps (global_step)",
                           "charts/episodic_return (reward per episode)", "charts/cheese_rate (fraction of episodes)",
                           "charts/corner_rate (fraction of episodes)"})
    EXPECT_TRUE(has_text(svg, text)) << text << "\n" << svg.dump();
  EXPECT_FALSE(has_text(svg, "ppo-s1"));  // one line per panel: no legend
  EXPECT_TRUE(paths_of(svg, "band").empty());
  const auto series = paths_of(svg, "series");
  ASSERT_EQ(series.size(), 3u);  // the return and the two rates; losses/value only on request
  // The cheese rate over the last 2 updates weighted by episodes: 0.5, 0.5 (the empty row has 0
  // episodes), 1, (1*1 + 0*3)/4.
  ASSERT_EQ(series[1]["subpaths"].size(), 1u);
  expect_affine({0.5, 0.5, 1.0, 0.25}, ys(series[1]["subpaths"][0]));
  // Steps along x: equal spacing for equal steps.
  const auto& points = series[1]["subpaths"][0];
  EXPECT_NEAR(points[1][0].get<double>() - points[0][0].get<double>(),
              points[3][0].get<double>() - points[2][0].get<double>(), 0.02);

  // --smooth 1 draws the values as logged; the empty row is a gap, two subpaths. Losses are no
  // episode statistic: no weights, so the row without episodes still has its loss.
  const auto raw =
      run_cli("plot " + run + " --smooth 1 --columns charts/cheese_rate,losses/value --out " + dir + "/raw.svg");
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  const nlohmann::json raw_svg = parse_svg(dir + "/raw.svg");
  EXPECT_TRUE(has_text(raw_svg, "losses/value (loss)"));
  const auto raw_series = paths_of(raw_svg, "series");
  ASSERT_EQ(raw_series.size(), 2u);
  ASSERT_EQ(raw_series[0]["subpaths"].size(), 2u);
  EXPECT_EQ(raw_series[0]["subpaths"][0].size(), 1u);
  expect_affine({1.0, 0.0}, ys(raw_series[0]["subpaths"][1]));
  expect_affine({9, 8, 7, 6}, ys(raw_series[1]["subpaths"][0]));
}

TEST(TrainingCurves, SeveralRunsGiveTheirMeanAndAMinMaxBandAtTheStepsTheyShare) {
  const std::string dir = test::make_temp_dir();
  const std::string header = "global_step,charts/episodic_return,charts/cheese_rate\n";
  const std::string a = make_run(dir, "s1", header + "10,1,0\n20,2,0\n30,3,0\n");
  const std::string b = make_run(dir, "s2", header + "10,3,0\n20,6,1\n30,3,1\n");
  const std::string c = make_run(dir, "s3", header + "10,5,1\n20,1,1\n30,6,1\n40,9,1\n");  // one step more
  const auto r = run_cli("plot " + a + " " + b + " " + c + " --smooth 1 --out " + dir + "/seeds.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(2 columns of 3 runs, 3 points each)"), std::string::npos) << r.out;
  const nlohmann::json svg = parse_svg(dir + "/seeds.svg");
  EXPECT_TRUE(has_text(svg, "Training curves of 3 runs: s1, s2, s3")) << svg.dump();
  EXPECT_TRUE(has_text(svg, "mean of 3 runs"));
  EXPECT_TRUE(has_text(svg, "min-max of 3 runs"));
  const auto series = paths_of(svg, "series"), bands = paths_of(svg, "band");
  ASSERT_EQ(series.size(), 2u);
  ASSERT_EQ(bands.size(), 2u);
  // Returns at steps 10, 20, 30: means 3, 3, 4; maxima 5, 6, 6; minima 1, 1, 3. The band goes
  // along the maxima and back along the minima, on the same scale as the mean.
  std::vector<double> pixels = ys(series[0]["subpaths"][0]);
  const std::vector<double> band = ys(bands[0]["subpaths"][0]);
  pixels.insert(pixels.end(), band.begin(), band.end());
  expect_affine({3, 3, 4, 5, 6, 6, 3, 1, 1}, pixels);
}

TEST(TrainingCurves, MissingRunsFilesAndColumnsAreOneLineAndWriteNothing) {
  const std::string dir = test::make_temp_dir();
  const std::string out = dir + "/out.svg";
  const std::string good = make_run(dir, "good", kMetrics);
  fs::create_directories(dir + "/empty_run");
  const std::string empty = make_run(dir, "empty", "");
  expect_one_line_error(run_cli("plot " + dir + "/nowhere --out " + out), "no run folder " + dir + "/nowhere");
  expect_one_line_error(run_cli("plot " + dir + "/empty_run --out " + out), "has no metrics.csv");
  expect_one_line_error(
      run_cli("plot " + good + " --columns charts/cheese_rate,charts/speed --out " + out),
      "--columns charts/speed: " + good + "/metrics.csv has no such column; it has: global_step, charts/episodes, ");
  expect_one_line_error(run_cli("plot " + empty + " --out " + out), "empty file");
  // The three runs only: no out.svg, no temporary.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 3);
}

TEST(TrainingCurves, BadCellsAndFlagsAreOneLineAndAnExistingSvgIsKeptWithoutForce) {
  const std::string dir = test::make_temp_dir();
  const std::string out = dir + "/out.svg";
  const std::string good = make_run(dir, "good", kMetrics);
  const std::string header_only = make_run(dir, "header", "global_step,charts/cheese_rate\n");
  const std::string words = make_run(dir, "words", "global_step,charts/cheese_rate\n10,0.5\n20,lots\n");
  expect_one_line_error(run_cli("plot " + header_only + " --out " + out), "no rows");
  expect_one_line_error(run_cli("plot " + good + " " + words + " --out " + out), "line 3, column charts/cheese_rate");
  expect_one_line_error(run_cli("plot " + good + " --smooth 0 --out " + out), "--smooth 0");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 3);
  write_file(out, "mine");
  expect_one_line_error(run_cli("plot " + good + " --out " + out), "exists; pass --force");
  EXPECT_EQ(test::read_file(out), "mine");
  ASSERT_EQ(run_cli("plot " + good + " --out " + out + " --force").exit_code, 0);
  EXPECT_EQ(test::read_file(out).substr(0, 4), "<svg");
}

using test::DecodedGif;

TEST(Videos, GifWriterFramesDecodeWithGiflibWithTheirDelayAndLooping) {
  const std::string dir = test::make_temp_dir();
  const int width = 7, height = 5;
  {
    GifWriter gif(dir + "/v.gif", width, height, 4);
    for (int f = 0; f < 3; ++f) {
      std::vector<float> chw(3 * width * height, 0.0f);
      chw[f * width * height + f] = 1.0f;  // pixel (f, 0) of frame f: red, green, blue
      for (int c = 0; c < 3; ++c) chw[c * width * height + width * 4 + 6] = 0.5f;  // grey at (6, 4)
      gif.add_frame(chw.data());
    }
    EXPECT_FALSE(fs::exists(dir + "/v.gif"));  // only complete files under the final name
    gif.finish();
    EXPECT_EQ(gif.frames(), 3);
  }
  const std::string bytes = test::read_file(dir + "/v.gif");
  EXPECT_EQ(bytes.substr(0, 6), "GIF89a");
  EXPECT_EQ(bytes.back(), ';');                             // the trailer
  EXPECT_NE(bytes.find("NETSCAPE2.0"), std::string::npos);  // loops
  const DecodedGif decoded(dir + "/v.gif");
  ASSERT_EQ(decoded.gif->ImageCount, 3);
  EXPECT_EQ(decoded.gif->SWidth, width);
  EXPECT_EQ(decoded.gif->SHeight, height);
  for (int f = 0; f < 3; ++f) {
    std::array<int, 3> expected = {0, 0, 0};
    expected[f] = 255;
    EXPECT_EQ(decoded.pixel(f, f, 0), expected) << f;
    EXPECT_EQ(decoded.pixel(f, (f + 1) % 3, 0), (std::array<int, 3>{0, 0, 0})) << f;
    EXPECT_EQ(decoded.pixel(f, 6, 4), (std::array<int, 3>{128, 128, 128})) << f;  // 3 colours: kept exactly
    GraphicsControlBlock control;
    ASSERT_EQ(DGifSavedExtensionToGCB(decoded.gif, f, &control), GIF_OK);
    EXPECT_EQ(control.DelayTime, 4);
  }
  // A frame of more than 256 colours (400: red along x, green along y) goes to the fixed 6x7x6
  // palette's nearest levels.
  {
    GifWriter gif(dir + "/many.gif", 20, 20, 4);
    std::vector<float> chw(3 * 400, 0.3f);  // blue 0.3: byte 77, level 2 of 0..5 (102)
    for (int p = 0; p < 400; ++p) chw[p] = (p % 20) / 19.0f, chw[400 + p] = (p / 20) / 19.0f;
    gif.add_frame(chw.data());
    gif.finish();
  }
  const DecodedGif many(dir + "/many.gif");
  EXPECT_EQ(many.pixel(0, 0, 0), (std::array<int, 3>{0, 0, 102}));
  EXPECT_EQ(many.pixel(0, 19, 19), (std::array<int, 3>{255, 255, 102}));
  // Green 9/19 is byte 121, level 3 of 0..6 (127).
  EXPECT_EQ(many.pixel(0, 19, 9), (std::array<int, 3>{255, 127, 102}));
  fs::remove(dir + "/many.gif");
  EXPECT_THROW(GifWriter(dir + "/w.gif", 0, 5, 4), InputError);
  EXPECT_THROW(GifWriter(dir + "/no/such/folder/w.gif", 5, 5, 4), InputError);
  { GifWriter abandoned(dir + "/x.gif", 5, 5, 4); }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no x.gif, no temporary
}

// The number in "wrote N frames of W x H" of render's stdout.
int64_t frames_reported(const std::string& out, int width, int height) {
  const size_t at = out.find("wrote ");
  EXPECT_NE(at, std::string::npos) << out;
  EXPECT_NE(out.find(" frames of " + std::to_string(width) + " x " + std::to_string(height) + " to "),
            std::string::npos)
      << out;
  return at == std::string::npos ? -1 : std::stoll(out.substr(at + 6));
}

TEST(Videos, MazeGifShowsAnUntrainedPolicysMouseMovingOverTwoEpisodes) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  const auto r = run_cli("render --run " + policy + " --episodes 2 --seed 5 --set env.max_episode_steps=40 --out " +
                         dir + "/maze.gif");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("episode 1: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("episode 2: "), std::string::npos) << r.out;
  const int64_t frames = frames_reported(r.out, 360, 360);  // easy mazes: 15 cells of 24 pixels
  const DecodedGif decoded(dir + "/maze.gif");
  EXPECT_EQ(decoded.gif->ImageCount, frames);
  EXPECT_GE(frames, 4);
  EXPECT_LE(frames, 2 * 41);
  EXPECT_EQ(decoded.gif->SWidth, 360);
  EXPECT_EQ(decoded.gif->SHeight, 360);
  // The mouse moves: some frame differs from the first.
  const int pixels = 360 * 360;
  bool moved = false;
  for (int i = 1; i < decoded.gif->ImageCount && !moved; ++i)
    moved = !std::equal(decoded.gif->SavedImages[0].RasterBits, decoded.gif->SavedImages[0].RasterBits + pixels,
                        decoded.gif->SavedImages[i].RasterBits);
  EXPECT_TRUE(moved);

  // The random policy too, and the hard distribution's 25-cell world at 15 pixels a cell.
  const auto random =
      run_cli("render --env maze --policy random --set env.max_episode_steps=10 --out " + dir + "/random.gif");
  ASSERT_EQ(random.exit_code, 0) << random.err;
  EXPECT_EQ(frames_reported(random.out, 375, 375), DecodedGif(dir + "/random.gif").gif->ImageCount);
}

TEST(Videos, Box2DGifAndTheFramesFolderStay) {
  const std::string dir = test::make_temp_dir();
  const auto r = run_cli("render --env lunar_lander --policy heuristic --every 10 --fps 25 --out " + dir + "/l.gif");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const DecodedGif decoded(dir + "/l.gif");
  EXPECT_EQ(decoded.gif->ImageCount, frames_reported(r.out, 600, 400));
  EXPECT_GT(decoded.gif->ImageCount, 3);
  GraphicsControlBlock control;
  ASSERT_EQ(DGifSavedExtensionToGCB(decoded.gif, 0, &control), GIF_OK);
  EXPECT_EQ(control.DelayTime, 4);  // 25 frames per second
  const std::string before = test::read_file(dir + "/l.gif");
  expect_one_line_error(run_cli("render --env lunar_lander --out " + dir + "/l.gif"), "exists; pass --force");
  EXPECT_EQ(test::read_file(dir + "/l.gif"), before);
  expect_one_line_error(run_cli("render --env lunar_lander --fps 200 --out " + dir + "/f.gif"), "--fps 200");
  EXPECT_FALSE(fs::exists(dir + "/f.gif"));
  // PNG frames of a maze, numbered on over episodes.
  const auto frames = run_cli("render --env maze --set env.max_episode_steps=3 --episodes 2 --out " + dir + "/frames");
  ASSERT_EQ(frames.exit_code, 0) << frames.err;
  EXPECT_EQ(frames_reported(frames.out, 375, 375), 8);  // 4 frames an episode: its start and 3 steps
  EXPECT_TRUE(fs::exists(dir + "/frames/frame_00007.png"));
}

}  // namespace
}  // namespace shardlab
