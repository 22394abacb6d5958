// The procgen_rgb observation against Procgen's own frames (../shared/testdata/procgen_frames, made
// by Procgen 0.10.7), its errors and the mouse's facing; `maze frames`; a smoke training run on
// procgen_rgb that the studies can read. The asset files used here are Procgen's (Kenney's packs,
// CC0; food icons by thekingphoenix, CC0; "Top-Down Backgrounds" by davis123, CC-BY 3.0), read from
// ../shared/testdata/procgen_assets.
#include <gtest/gtest.h>

#include <QImage>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "envs/maze/maze_env.h"
#include "envs/maze/procgen_render.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using maze::Cell;
using maze::MazeConfig;
using maze::MazeEnv;
using maze::ObservationKind;
using test::expect_one_line_error;
using test::run_cli;

constexpr int kSide = maze::kProcgenFrameSize;
const int kActions[16] = {7, 7, 5, 5, 1, 7, 3, 5, 7, 5, 1, 1, 5, 7, 7, 5};  // the reference frames' actions

std::string frames_dir() { return test::shared_dir() + "/testdata/procgen_frames"; }

MazeConfig procgen_config(int world_size, int64_t level) {
  MazeConfig c;
  c.world_size = world_size;
  c.num_levels = 1;
  c.start_level = level;
  c.observation = ObservationKind::kProcgenRgb;
  c.procgen_assets = test::procgen_assets_dir();
  return c;
}

// An RGB PNG as 64 * 64 * 3 bytes (row-major), through Qt.
std::vector<uint8_t> read_png(const std::string& path, int* width = nullptr, int* height = nullptr) {
  const QImage image = QImage(QString::fromStdString(path)).convertToFormat(QImage::Format_RGB888);
  EXPECT_FALSE(image.isNull()) << path;
  if (width) *width = image.width();
  if (height) *height = image.height();
  std::vector<uint8_t> rgb(static_cast<size_t>(image.width()) * image.height() * 3);
  for (int y = 0; y < image.height(); ++y)
    std::copy_n(image.constScanLine(y), image.width() * 3, rgb.begin() + static_cast<long>(y) * image.width() * 3);
  return rgb;
}

// The observation (3, 64, 64) in [0, 1] back to bytes, row-major RGB.
std::vector<uint8_t> to_bytes(const std::vector<float>& chw) {
  std::vector<uint8_t> rgb(kSide * kSide * 3);
  for (int i = 0; i < kSide * kSide; ++i)
    for (int c = 0; c < 3; ++c) {
      const float v = chw[c * kSide * kSide + i] * 255.0f;
      EXPECT_EQ(v, std::round(v));  // exactly pixel / 255
      rgb[i * 3 + c] = static_cast<uint8_t>(std::lround(v));
    }
  return rgb;
}

struct Difference {
  int pixels = 0;   // pixels with any channel different
  int largest = 0;  // the largest absolute channel difference
};

Difference compare(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  Difference d;
  for (size_t i = 0; i < a.size(); i += 3) {
    int worst = 0;
    for (int c = 0; c < 3; ++c) worst = std::max(worst, std::abs(int(a[i + c]) - int(b[i + c])));
    d.pixels += worst > 0;
    d.largest = std::max(d.largest, worst);
  }
  return d;
}

std::vector<float> observe(const MazeEnv& env) {
  std::vector<float> obs(3 * kSide * kSide);
  env.write_observation(obs.data());
  return obs;
}

// Every frame of the index: the same level stepped through the same actions by our environment,
// reset as Procgen resets it when the cheese is reached (num_levels = 1: the same level again).
TEST(ProcgenRender, MatchesProcgensOwnFrames) {
  int frames = 0, exact = 0, exact_hard = 0, hard = 0, most_pixels = 0, largest = 0;
  for (const std::string distribution : {"hard", "easy"}) {
    std::ifstream index(frames_dir() + "/" + distribution + "_index.txt");
    ASSERT_TRUE(index.good()) << frames_dir();
    std::string line;
    while (std::getline(index, line)) {
      std::istringstream in(line);
      std::string word;
      int64_t seed = -1, step = -1, action = 0, first = 0;
      double reward = 0;
      in >> word >> seed >> word >> step >> word >> action >> word >> reward >> word >> first;
      ASSERT_GE(seed, 0) << line;
      MazeEnv env(procgen_config(maze::world_size_of(distribution), seed), 0);
      bool reset = false;
      for (int64_t k = 0; k < step; ++k) {
        const StepResult r = env.step(Action{kActions[k]});
        reset = r.done();
        if (reset) env.reset();
      }
      if (step > 0) {
        EXPECT_EQ(reset, first == 1) << line;  // the index flags every reset frame first
      }
      char name[96];
      std::snprintf(name, sizeof name, "/%s_seed%04d_step%02d.png", distribution.c_str(), static_cast<int>(seed),
                    static_cast<int>(step));
      const Difference d = compare(to_bytes(observe(env)), read_png(frames_dir() + name));
      ++frames;
      exact += d.pixels == 0;
      if (distribution == "hard") {
        ++hard;
        exact_hard += d.pixels == 0;
      }
      most_pixels = std::max(most_pixels, d.pixels);
      largest = std::max(largest, d.largest);
      if (d.pixels)
        std::printf("procgen frame %s: %d pixel(s) differ, largest difference %d\n", name + 1, d.pixels, d.largest);
    }
  }
  std::printf(
      "procgen frames: %d of %d identical (hard %d of %d); at most %d pixel(s) of 4096 differ in a frame, "
      "largest channel difference %d\n",
      exact, frames, exact_hard, hard, most_pixels, largest);
  EXPECT_EQ(frames, 248);
  // Measured with Debian 12's Qt 5.15.8 (Procgen 0.10.7 ships its own Qt 5.13.2): every hard frame
  // and all but 6 easy ones identical; the 6 differ in one pixel of the mirrored mouse, a
  // nearest-neighbour sample that falls within 1e-4 source pixels of a texel edge (easy worlds
  // draw at 64/15 pixels per cell, not a float) and that the two Qt versions round differently.
  EXPECT_EQ(exact_hard, hard);
  EXPECT_GE(exact, 242);
  EXPECT_LE(most_pixels, 1);
  EXPECT_LE(largest, 160);
}

TEST(ProcgenRender, BackgroundComesFromTheLevelsRandomStream) {
  // The first draws of a level: floats in [0, 1) and an index into the 9 backgrounds, which vary.
  std::vector<int> seen(maze::kNumBackgrounds);
  for (uint32_t seed = 0; seed < 60; ++seed) {
    const auto layout = maze::generate_maze(seed, maze::kHardWorld, maze::Placement{});
    ASSERT_GE(layout.background_index, 0);
    ASSERT_LT(layout.background_index, maze::kNumBackgrounds);
    EXPECT_GE(layout.background_offset, 0.0f);
    EXPECT_LT(layout.background_offset, 1.0f);
    ++seen[layout.background_index];
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0);
}

TEST(ProcgenRender, MissingAssetsAreOneLineErrors) {
  MazeConfig c = procgen_config(maze::kHardWorld, 0);
  c.procgen_assets = "";
  try {
    MazeEnv env(c, 0);
    FAIL() << "no error without env.procgen_assets";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("env.procgen_assets"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  const std::string empty = test::make_temp_dir();
  c.procgen_assets = empty;
  try {
    MazeEnv env(c, 0);
    FAIL() << "no error with an empty assets folder";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("kenney/Ground/Sand/sandCenter.png"), std::string::npos) << e.what();
  }
  expect_one_line_error(
      run_cli("maze frames --seed 1 --actions 7 --at 1 --out " + empty + "/f --set env.observation=procgen_rgb"),
      "env.procgen_assets");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7 --at 1 --out " + empty +
                                "/f --set env.observation=procgen_rgb --set env.procgen_assets=" + empty),
                        "has no kenney/Ground/Sand/sandCenter.png");
}

// The mouse box of a hard world: cell (x, y) covers pixels [2.56 x, 2.56 (x + 1)) from the left
// and from the top, row 24 - y.
bool in_mouse_box(Cell c, int px, int py) {
  const double unit = 64.0 / 25;
  return px + 1 > c.x * unit && px < (c.x + 1) * unit && py + 1 > (24 - c.y) * unit && py < (25 - c.y) * unit;
}

TEST(ProcgenRender, MouseIsMirroredAfterARightwardMove) {
  MazeEnv env(procgen_config(maze::kHardWorld, 0), 0);
  EXPECT_TRUE(env.mouse().facing_left);  // Procgen's sprite faces left until the first move right
  const std::vector<float> at_reset = observe(env);
  const Cell start = env.mouse().position;
  env.step(Action{1});  // left: into the maze's outer wall, the mouse stays and still faces left
  ASSERT_EQ(env.mouse().position, start);
  EXPECT_EQ(observe(env), at_reset);
  env.step(Action{3});  // down: a wall too; facing unchanged
  EXPECT_EQ(observe(env), at_reset);

  // A rightward move, even against a wall, mirrors the sprite; only the mouse's cell changes.
  maze::MazeLayout walled = env.layout();
  walled.walls[start.y * walled.world_size + start.x + 1] = 1;
  env.set_layout(walled);
  const std::vector<float> before = observe(env);
  env.step(Action{7});
  ASSERT_EQ(env.mouse().position, start);
  EXPECT_FALSE(env.mouse().facing_left);
  const std::vector<float> mirrored = observe(env);
  int changed = 0;
  for (int py = 0; py < kSide; ++py)
    for (int px = 0; px < kSide; ++px)
      for (int c = 0; c < 3; ++c) {
        const size_t at = static_cast<size_t>(c) * kSide * kSide + py * kSide + px;
        if (before[at] != mirrored[at]) {
          ++changed;
          EXPECT_TRUE(in_mouse_box(start, px, py)) << px << ", " << py;
        }
      }
  EXPECT_GT(changed, 0);
  // update_observation keeps the buffer equal to a full redraw; a left move turns it back.
  std::vector<float> buffer = mirrored;
  env.step(Action{1});
  env.update_observation(buffer.data());
  EXPECT_EQ(buffer, before);

  // place_mouse (analysis) keeps the facing.
  env.step(Action{7});
  const Cell elsewhere{start.x, start.y + 1};
  if (env.layout().is_free(elsewhere)) {
    env.place_mouse(elsewhere);
    EXPECT_FALSE(env.mouse().facing_left);
  }
}

TEST(ProcgenRender, SameFramesFromManyThreads) {
  const auto assets = maze::load_procgen_assets(test::procgen_assets_dir());
  EXPECT_EQ(assets, maze::load_procgen_assets(test::procgen_assets_dir() + "/"));  // loaded once per folder
  std::vector<maze::MazeLayout> layouts;
  for (uint32_t seed = 0; seed < 16; ++seed) layouts.push_back(maze::generate_maze(seed, 25, maze::Placement{}));
  auto render_all = [&](std::vector<std::vector<uint8_t>>& out) {
    out.assign(layouts.size(), std::vector<uint8_t>(kSide * kSide * 3));
    for (int repeat = 0; repeat < 5; ++repeat)
      for (size_t i = 0; i < layouts.size(); ++i)
        maze::draw_procgen_frame(*assets, layouts[i], maze::MouseState{layouts[i].start, i % 2 == 0}, out[i].data());
  };
  std::vector<std::vector<uint8_t>> reference;
  render_all(reference);
  std::vector<std::vector<std::vector<uint8_t>>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&render_all, &r] { render_all(r); });
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, reference);
}

TEST(MazeFrames, WritesTheObservationsAtTheListedSteps) {
  const std::string dir = test::make_temp_dir();
  auto r = run_cli(
      "maze frames --seed 0 --distribution easy --actions 7,7,5,5,1,7,3,5,7,5,1,1,5,7,7,5 --at 16,0,4 "
      "--out " +
      dir + "/f --set env.observation=procgen_rgb --set env.procgen_assets=" + test::procgen_assets_dir());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote 3 frames of 64 x 64"), std::string::npos) << r.out;
  for (const char* step : {"00", "04", "16"}) {
    const std::string name = std::string("seed0000_step") + step + ".png";
    const Difference d = compare(read_png(dir + "/f/" + name), read_png(frames_dir() + "/easy_" + name));
    EXPECT_EQ(d.pixels, 0) << name;
  }
  EXPECT_FALSE(std::ifstream(dir + "/f/seed0000_step08.png").good());

  // The grid observation: a W x W picture of its planes; --force replaces.
  r = run_cli("maze frames --seed 12 --actions 7 --at 0,1 --out " + dir + "/g");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int width = 0, height = 0;
  const std::vector<uint8_t> grid = read_png(dir + "/g/seed0012_step01.png", &width, &height);
  EXPECT_EQ(width, 25);
  EXPECT_EQ(height, 25);
  const maze::MazeLayout layout = maze::generate_maze(12, 25, maze::Placement{});
  EXPECT_EQ(grid[0], 255);  // the top-left world cell is a wall: red
  const size_t cheese = (static_cast<size_t>(24 - layout.cheese.y) * 25 + layout.cheese.x) * 3;
  EXPECT_EQ(grid[cheese + 1], 255);  // green
  EXPECT_EQ(run_cli("maze frames --seed 12 --actions 7 --at 1 --out " + dir + "/g --force").exit_code, 0);
}

TEST(MazeFrames, RefusesBadInput) {
  const std::string dir = test::make_temp_dir();
  const std::string out = " --out " + dir + "/f";
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7,x --at 1" + out), "--actions 7,x: 'x'");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7,15 --at 1" + out), "expected 0..14");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 5 --at 1 --set env.actions=compact" + out),
                        "expected 0..4");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7,7 --at 0,3" + out), "--at 0,3: '3'");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7,7 --at 1,1" + out), "listed twice");
  expect_one_line_error(run_cli("maze frames --actions 7 --at 1" + out), "--seed");
  expect_one_line_error(run_cli("maze frames --seed -3 --actions 7 --at 1" + out), "--seed -3");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7 --at 1"), "--out");
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7 --at 1 --env lunar_lander" + out), "expected maze");
  ASSERT_EQ(run_cli("maze frames --seed 1 --actions 7 --at 1" + out).exit_code, 0);
  expect_one_line_error(run_cli("maze frames --seed 1 --actions 7 --at 0,1" + out), "pass --force");
  EXPECT_FALSE(std::ifstream(dir + "/f/seed0001_step00.png").good());  // refused before writing anything
}

// A few PPO updates on procgen_rgb frames, then a study on the checkpoint.
TEST(ProcgenRender, SmokeRunTrainsAndIsAnalysable) {
  const std::string out = test::make_temp_dir();
  const std::string spec = std::string(SHARDLAB_SOURCE_DIR) + "/experiments/ppo_maze_smoke.ini";
  auto r = run_cli("train " + spec +
                   " --set env.observation=procgen_rgb --set env.procgen_assets=" + test::procgen_assets_dir() +
                   " --set env.num_envs=8 --set train.num_steps=32 --set train.total_steps=768 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run = out + "/ppo_maze_smoke";
  EXPECT_EQ(test::read_csv(run + "/metrics.csv").size(), 4u);  // header + 3 updates
  r = run_cli("analyze vector-field " + run + " --seed 2 --svg " + out + "/field.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::ifstream(out + "/field.svg").good());
}

}  // namespace
}  // namespace shardlab
