// The maze's dynamics, observations, episode statistics and editing.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/maze/maze_env.h"
#include "envs/maze/maze_paths.h"
#include "experiments/schema.h"

namespace shardlab::maze {
namespace {

MazeConfig config(ObservationKind obs = ObservationKind::kGrid, ActionSet actions = ActionSet::kCompact) {
  MazeConfig c;
  c.observation = obs;
  c.actions = actions;
  return c;
}

// The compact action that moves from a to the neighbouring cell b.
int move_between(Cell a, Cell b) {
  if (b.x < a.x) return kLeft;
  if (b.x > a.x) return kRight;
  return b.y < a.y ? kDown : kUp;
}

float grid_at(const std::vector<float>& obs, int w, int channel, Cell c) {
  return obs[channel * w * w + (w - 1 - c.y) * w + c.x];
}

TEST(MazeEnv, ProcgenActionDecoding) {
  EXPECT_EQ(compact_action_of(0), kLeft);
  EXPECT_EQ(compact_action_of(1), kLeft);
  EXPECT_EQ(compact_action_of(2), kLeft);
  EXPECT_EQ(compact_action_of(3), kDown);
  EXPECT_EQ(compact_action_of(4), kNoop);
  EXPECT_EQ(compact_action_of(5), kUp);
  for (int a = 6; a < 9; ++a) EXPECT_EQ(compact_action_of(a), kRight);
  for (int a = 9; a < 15; ++a) EXPECT_EQ(compact_action_of(a), kNoop);
}

TEST(MazeEnv, GridObservationPutsTopRowFirst) {
  MazeEnv env(config(), 1);
  env.reset_to_level(0);
  const MazeLayout& m = env.layout();
  std::vector<float> obs(env.observation_spec().size());
  ASSERT_EQ(obs.size(), 3u * 25 * 25);
  env.write_observation(obs.data());
  for (int y = 0; y < 25; ++y)
    for (int x = 0; x < 25; ++x) {
      const Cell c{x, y};
      EXPECT_EQ(grid_at(obs, 25, 0, c), m.is_wall(c) ? 1.0f : 0.0f);
      EXPECT_EQ(grid_at(obs, 25, 1, c), c == m.cheese ? 1.0f : 0.0f);
      EXPECT_EQ(grid_at(obs, 25, 2, c), c == m.start ? 1.0f : 0.0f);
    }
  // Seed 0's cheese sits at world (6, 11): row 25 - 1 - 11 = 13 of the cheese channel.
  EXPECT_EQ(obs[25 * 25 + 13 * 25 + 6], 1.0f);
}

TEST(MazeEnv, WallsBlockAndFacingFollowsHorizontalMoves) {
  MazeEnv env(config(), 1);
  env.reset_to_level(0);
  const Cell start = env.mouse().position;
  // The start is the maze's bottom-left: left and down are outside the maze (walls).
  env.step({kLeft});
  EXPECT_EQ(env.mouse().position, start);
  EXPECT_TRUE(env.mouse().facing_left);
  env.step({kDown});
  EXPECT_EQ(env.mouse().position, start);
  EXPECT_TRUE(env.mouse().facing_left);
  env.step({kRight});
  EXPECT_FALSE(env.mouse().facing_left);
}

TEST(MazeEnv, FollowingShortestPathReachesCheeseWithReward) {
  MazeEnv env(config(), 1);
  for (uint32_t level = 0; level < 30; ++level) {
    env.reset_to_level(level);
    const auto path = shortest_path(env.layout(), env.layout().start, env.layout().cheese);
    ASSERT_GE(path.size(), 2u);
    StepResult r;
    for (size_t i = 1; i < path.size(); ++i) {
      ASSERT_FALSE(r.done());
      r = env.step({move_between(path[i - 1], path[i])});
      EXPECT_EQ(env.mouse().position, path[i]);
    }
    EXPECT_TRUE(r.terminated);
    EXPECT_FALSE(r.truncated);
    EXPECT_EQ(r.reward, kCheeseReward);
    const EpisodeStats s = env.episode_stats();
    EXPECT_EQ(s.length, static_cast<int64_t>(path.size() - 1));
    EXPECT_EQ(s.episode_return, kCheeseReward);
    EXPECT_EQ(s.metrics.at("reached_cheese"), 1.0);
  }
}

TEST(MazeEnv, CornerFirstIsCountedAndTimeoutTruncates) {
  MazeConfig c = config();
  c.max_episode_steps = 500;
  MazeEnv env(c, 1);
  // Find a level whose cheese is not on the way to the corner.
  uint32_t level = 0;
  for (;; ++level) {
    env.reset_to_level(level);
    if (decision_square(env.layout())) break;
  }
  const auto path = path_to_top_right(env.layout());
  for (size_t i = 1; i < path.size(); ++i) env.step({move_between(path[i - 1], path[i])});
  EXPECT_EQ(env.mouse().position, env.layout().top_right());
  StepResult r;
  int steps = static_cast<int>(path.size()) - 1;
  while (!r.done()) {
    r = env.step({kNoop});
    ++steps;
  }
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(r.reward, 0.0f);
  EXPECT_EQ(steps, 500);
  const EpisodeStats s = env.episode_stats();
  EXPECT_EQ(s.metrics.at("reached_corner"), 1.0);
  EXPECT_EQ(s.metrics.at("reached_cheese"), 0.0);
  EXPECT_FALSE(s.terminated);
}

TEST(MazeEnv, IncrementalObservationMatchesFullRedraw) {
  for (auto kind : {ObservationKind::kGrid, ObservationKind::kRgb}) {
    MazeConfig c = config(kind, ActionSet::kProcgen);
    MazeEnv env(c, 3);
    Rng rng(5);
    std::vector<float> incremental(env.observation_spec().size()), full(incremental.size());
    env.write_observation(incremental.data());
    for (int t = 0; t < 3000; ++t) {
      const StepResult r = env.step({rng.uniform_int(15)});
      if (r.done()) {
        env.reset();
        env.write_observation(incremental.data());
        continue;
      }
      env.update_observation(incremental.data());
      env.write_observation(full.data());
      ASSERT_EQ(incremental, full) << "step " << t;
    }
  }
}

TEST(MazeEnv, RgbObservationShowsObjectsInProcgenGeometry) {
  MazeEnv env(config(ObservationKind::kRgb), 1);
  env.reset_to_level(0);
  std::vector<float> img(env.observation_spec().size());
  ASSERT_EQ(env.observation_spec().shape, (std::vector<int64_t>{3, 64, 64}));
  env.write_observation(img.data());
  EXPECT_GE(*std::min_element(img.begin(), img.end()), 0.0f);
  EXPECT_LE(*std::max_element(img.begin(), img.end()), 1.0f);
  // The pixel at the centre of a cell shows that cell: 64/25 = 2.56 pixels per cell.
  auto pixel_of = [](Cell c, int channel, const std::vector<float>& im) {
    const int px = static_cast<int>((c.x + 0.5) * 64 / 25);
    const int py = static_cast<int>((25 - 1 - c.y + 0.5) * 64 / 25);
    return im[channel * 64 * 64 + py * 64 + px];
  };
  const MazeLayout& m = env.layout();
  // Cheese is yellow (red and green high, blue low); walls are dark.
  EXPECT_GT(pixel_of(m.cheese, 0, img), 0.9f);
  EXPECT_LT(pixel_of(m.cheese, 2, img), 0.3f);
  EXPECT_LT(pixel_of({0, 0}, 0, img), 0.4f);
  // Turning the mouse changes the picture, moving it back restores it.
  const std::vector<float> before = img;
  env.step({kLeft});  // blocked, but the mouse now faces left
  env.update_observation(img.data());
  EXPECT_NE(img, before);
  env.step({kRight});
  env.step({kLeft});
  env.step({kRight});  // whichever way it went, facing right again
  EXPECT_FALSE(env.mouse().facing_left);
}

TEST(MazeEnv, EditingCheeseAndMouse) {
  MazeEnv env(config(), 1);
  env.reset_to_level(0);
  std::vector<float> obs(env.observation_spec().size());
  env.remove_cheese();
  env.write_observation(obs.data());
  EXPECT_TRUE(std::all_of(obs.begin() + 625, obs.begin() + 1250, [](float v) { return v == 0.0f; }));
  EXPECT_FALSE(decision_square(env.layout()).has_value());

  const Cell corner = env.layout().top_right();
  env.move_cheese(corner);
  EXPECT_EQ(env.layout().cheese, corner);
  EXPECT_THROW(env.move_cheese({0, 0}), InputError);  // a wall
  EXPECT_THROW(env.place_mouse({0, 0}), InputError);
  env.place_mouse(corner);
  EXPECT_EQ(env.mouse().position, corner);
  const StepResult r = env.step({kNoop});
  EXPECT_TRUE(r.terminated);  // standing on the cheese
}

TEST(MazeEnv, DecisionSquareOnHandBuiltMaze) {
  // A perfect 5x5 maze; the paths to the cheese and to the corner part at world (3, 5).
  const std::vector<std::string> rows = {
      "#######",  //
      "#.....#",  // the maze's top row: the corner is world (5, 5)
      "#.#.#.#",  //
      "#.#C#.#",  //
      "#.###.#",  //
      "#M#...#",  //
      "#######",
  };
  const MazeLayout m = layout_from_rows(rows);
  ASSERT_EQ(m.maze_dim, 5);
  ASSERT_EQ(m.top_right(), (Cell{5, 5}));
  const auto to_corner = path_to_top_right(m);
  EXPECT_EQ(to_corner.size(), 9u);
  const auto ds = decision_square(m);
  ASSERT_TRUE(ds.has_value());
  EXPECT_EQ(*ds, (Cell{3, 5}));
  // Cheese on the way to the corner: no decision square.
  MazeLayout on_path = m;
  on_path.cheese = {2, 5};
  EXPECT_FALSE(decision_square(on_path).has_value());
}

TEST(MazeEnv, LevelSeedsFollowNumLevels) {
  MazeConfig c = config();
  c.num_levels = 3;
  c.start_level = 100;
  MazeEnv env(c, 9);
  for (int i = 0; i < 50; ++i) {
    env.reset();
    EXPECT_GE(env.layout().level_seed, 100u);
    EXPECT_LT(env.layout().level_seed, 103u);
  }
}

TEST(MazeEnv, MaxMazeSizeKeepsProcgenLayoutsOfThatSize) {
  MazeConfig c = config();
  c.world_size = kEasyWorld;
  c.max_maze_size = 7;
  MazeEnv env(c, 4);
  std::set<int> sizes;
  for (int i = 0; i < 200; ++i) {
    env.reset();
    const MazeLayout& layout = env.layout();
    sizes.insert(layout.maze_dim);
    EXPECT_EQ(layout.maze_dim, maze_dim_of(layout.level_seed, kEasyWorld));
    EXPECT_EQ(layout.walls, generate_maze(layout.level_seed, kEasyWorld, c.placement).walls);
  }
  EXPECT_EQ(sizes, (std::set<int>{3, 5, 7}));
}

TEST(MazeEnv, MinAndMaxMazeSizeKeepOnlySizesBetween) {
  MazeConfig c = config();
  c.world_size = kEasyWorld;
  c.min_maze_size = 7;
  c.max_maze_size = 9;
  MazeEnv env(c, 4);
  std::set<int> sizes;
  for (int i = 0; i < 200; ++i) {
    env.reset();
    sizes.insert(env.layout().maze_dim);
    EXPECT_EQ(env.layout().walls, generate_maze(env.layout().level_seed, kEasyWorld, c.placement).walls);
  }
  EXPECT_EQ(sizes, (std::set<int>{7, 9}));
}

// env.keep_levels: every level kept offers the mouse the choice, with the cheese outside the
// top-right 5x5 for the published measure's mazes; the kept levels are Procgen's, and they are a
// minority of all levels (so the filter does something).
TEST(MazeEnv, KeepLevelsKeepsOnlyMazesWithAChoice) {
  MazeConfig c = config();
  c.world_size = kEasyWorld;
  c.keep_levels = MazeConfig::KeepLevels::kDecisionSquareCheeseOutside5x5;
  MazeEnv env(c, 4);
  for (int i = 0; i < 200; ++i) {
    env.reset();
    const MazeLayout& layout = env.layout();
    ASSERT_TRUE(offers_corner_or_cheese(layout)) << layout.level_seed;
    EXPECT_FALSE(in_top_right_region(layout, layout.cheese, 5)) << layout.level_seed;
    EXPECT_EQ(layout.walls, generate_maze(layout.level_seed, kEasyWorld, c.placement).walls);
  }
  c.keep_levels = MazeConfig::KeepLevels::kAll;
  MazeEnv all(c, 4);
  int with_choice = 0;
  for (int i = 0; i < 200; ++i) {
    all.reset();
    with_choice += offers_corner_or_cheese(all.layout()) && !in_top_right_region(all.layout(), all.layout().cheese, 5);
  }
  EXPECT_GT(with_choice, 10);
  EXPECT_LT(with_choice, 150);
  EXPECT_EQ(MazeConfig::from_spec(Spec::load(shardlab_schema(), "", {"env.keep_levels=decision_square"})).keep_levels,
            MazeConfig::KeepLevels::kDecisionSquare);
  EXPECT_THROW(Spec::load(shardlab_schema(), "", {"env.keep_levels=some"}), InputError);
}

TEST(MazeEnv, MazeSizeKeysRejectEvenOutOfRangeAndCrossedLimits) {
  for (const auto& [sets, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"env.min_maze_size=8"}, "env.min_maze_size = 8: expected 0 or an odd size in [3, 25]"},
           {{"env.max_maze_size=27"}, "env.max_maze_size = 27: expected 0 or an odd size in [3, 25]"},
           {{"env.min_maze_size=11", "env.max_maze_size=9"},
            "env.min_maze_size = 11 is larger than env.max_maze_size = 9"}}) {
    try {
      MazeConfig::from_spec(Spec::load(shardlab_schema(), "", sets));
      ADD_FAILURE() << "accepted " << sets.back();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

TEST(MazeEnv, MaxMazeSizeWithNoSuchLevelIsAnError) {
  // Find a level range of one seed whose maze is larger than 3.
  uint32_t seed = 0;
  while (maze_dim_of(seed, kEasyWorld) == 3) ++seed;
  MazeConfig c = config();
  c.world_size = kEasyWorld;
  c.max_maze_size = 3;
  c.num_levels = 1;
  c.start_level = seed;
  EXPECT_THROW(MazeEnv(c, 1), InputError);
}

}  // namespace
}  // namespace shardlab::maze
