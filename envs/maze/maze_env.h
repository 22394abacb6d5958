// The maze task (Procgen `maze` / procgenAISC `maze_aisc`): a mouse, a cheese, +10 for reaching
// it, 500 steps at most. See ../shared/reference/maze.md.
#pragma once

#include <memory>
#include <string>

#include "core/rng.h"
#include "envs/env.h"
#include "envs/maze/maze_generator.h"
#include "envs/maze/maze_render.h"
#include "envs/maze/procgen_render.h"

namespace shardlab {
class Spec;
class SpecSchema;
}  // namespace shardlab

namespace shardlab::maze {

// grid: 3 x W x W planes; rgb: our flat-colour 64 x 64 picture; procgen_rgb: Procgen's own 64 x 64
// frame (envs/maze/procgen_render.h), from the asset files in MazeConfig::procgen_assets.
enum class ObservationKind { kGrid, kRgb, kProcgenRgb };
enum class ActionSet { kProcgen, kCompact };

// Procgen's 15 actions collapse onto these moves; the compact action set is this order.
enum CompactAction : int { kLeft = 0, kDown = 1, kUp = 2, kRight = 3, kNoop = 4 };
constexpr int kNumProcgenActions = 15;
constexpr int kNumCompactActions = 5;
// The compact action that Procgen action `a` performs.
int compact_action_of(int procgen_action);

constexpr float kCheeseReward = 10.0f;
constexpr int kRgbSize = 64;            // Procgen's observation is 64 x 64 pixels
constexpr int kDefaultTimeLimit = 500;  // Procgen's

struct MazeConfig {
  int world_size = kHardWorld;
  Placement placement;
  int64_t num_levels = 0;   // 0: any level seed in [0, 2^31 - 1)
  int64_t start_level = 0;  // levels are start_level + [0, num_levels)
  int min_maze_size = 0;    // > 0: levels with a smaller maze are skipped (redrawn)
  int max_maze_size = 0;    // > 0: levels with a larger maze are skipped (redrawn)
  // Which levels are kept (the others redrawn): all; those whose maze offers the mouse a choice
  // between the cheese and the top-right corner (a decision square that is not the corner); those
  // whose cheese is also outside the maze's top-right 5x5 (the published behavioural statistics' mazes).
  enum class KeepLevels { kAll, kDecisionSquare, kDecisionSquareCheeseOutside5x5 } keep_levels = KeepLevels::kAll;
  ObservationKind observation = ObservationKind::kGrid;
  std::string procgen_assets;  // Procgen's data/assets/ folder (procgen_rgb only)
  ActionSet actions = ActionSet::kProcgen;
  int max_episode_steps = kDefaultTimeLimit;

  static MazeConfig from_spec(const Spec& spec);
  // Whether levels whose maze is dim x dim are drawn (min_maze_size <= dim <= max_maze_size).
  bool keeps_maze_dim(int dim) const;
  // Whether env.keep_levels keeps this level.
  bool keeps_layout(const MazeLayout& layout) const;
  // The keys that leave mazes out, for messages: "env.max_maze_size = 9", "env.min_maze_size = 7,
  // env.max_maze_size = 9" (and "env.keep_levels = ..." when set), or "no maze size limit".
  std::string maze_size_limits() const;
};

// The maze keys of the spec (env.distribution, env.placement, ...).
void declare_maze_keys(SpecSchema& schema);

class MazeEnv : public Env {
 public:
  MazeEnv(const MazeConfig& config, uint64_t seed);

  std::string name() const override { return "maze"; }
  ObservationSpec observation_spec() const override;
  ActionSpec action_spec() const override;
  void seed(uint64_t seed) override { rng_.reseed(seed); }
  void reset() override;
  StepResult step(const Action& action) override;
  void write_observation(float* out) const override;
  void update_observation(float* out) const override;
  EpisodeStats episode_stats() const override;
  std::vector<std::string> info_names() const override { return {"level_seed"}; }
  void write_info(int64_t* out) const override { out[0] = layout_.level_seed; }
  std::string to_string() const override;
  std::unique_ptr<Env> clone() const override { return std::make_unique<MazeEnv>(*this); }
  Frame draw() const override;

  // Editing, for analysis: each starts a fresh episode on the edited maze.
  void reset_to_level(uint32_t level_seed);
  void set_layout(const MazeLayout& layout);
  void remove_cheese();
  void move_cheese(Cell cell);  // throws InputError unless the cell is free
  // Throws InputError unless the cell is free. The mouse keeps the way it faces (as Procgen
  // would draw an agent moved without stepping), so procgen_rgb frames of a placed mouse show it
  // facing as it did before: left after a reset.
  void place_mouse(Cell cell);

  const MazeConfig& config() const { return config_; }
  const MazeLayout& layout() const { return layout_; }
  const MouseState& mouse() const { return mouse_; }

 private:
  void start_episode();
  uint32_t draw_level_seed();
  MazeConfig config_;
  Rng rng_;
  std::shared_ptr<const MazeRaster> raster_;             // rgb observations only
  std::shared_ptr<const ProcgenAssets> procgen_assets_;  // procgen_rgb observations only
  MazeLayout layout_;
  MouseState mouse_;
  Cell previous_position_;
  bool previous_facing_left_ = false;
  int64_t steps_ = 0;
  double return_ = 0.0;
  bool reached_cheese_ = false;
  bool reached_corner_ = false;
  bool truncated_ = false;
};

}  // namespace shardlab::maze
