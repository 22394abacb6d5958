#include "envs/maze/maze_env.h"

#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::maze {
namespace {

// Procgen draws a level seed from [0, 2^31 - 1) when num_levels is 0.
constexpr uint32_t kLevelSeedRange = 2147483647u;

}  // namespace

int compact_action_of(int procgen_action) {
  if (procgen_action < 0 || procgen_action >= 9) return kNoop;
  const int vx = procgen_action / 3 - 1;
  const int vy = procgen_action % 3 - 1;
  if (vx < 0) return kLeft;  // the maze zeroes vy whenever vx != 0
  if (vx > 0) return kRight;
  return vy < 0 ? kDown : vy > 0 ? kUp : kNoop;
}

void declare_maze_keys(SpecSchema& schema) {
  schema.add("env.distribution", KeyType::kString, "hard", "maze: world size, easy = 15x15, hard = 25x25 (Procgen)")
      .choices = {"easy", "hard"};
  schema
      .add("env.placement", KeyType::kString, "uniform",
           "maze: cheese placement, uniform | top_right_region:N (procgenAISC, N >= 1) | top_right_region:N,M,... "
           "(each level one of these sizes, an equal share each; N*K = K shares of N) | corner")
      .check = [](const std::string& v) { Placement::parse(v); };
  schema.add("env.num_levels", KeyType::kInt, "0", "maze: number of distinct levels, 0 = unlimited");
  schema.add("env.start_level", KeyType::kInt, "0", "maze: first level seed when num_levels > 0");
  schema.add("env.min_maze_size", KeyType::kInt, "0",
             "maze: skip levels whose maze is smaller than this (odd, >= 3; 0 = no limit); kept levels are Procgen's");
  schema.add("env.max_maze_size", KeyType::kInt, "0",
             "maze: skip levels whose maze is larger than this (odd, >= 3; 0 = no limit); kept levels are Procgen's");
  schema
      .add("env.keep_levels", KeyType::kString, "all",
           "maze: levels kept (the others redrawn), all | decision_square (the mouse must choose between the "
           "cheese and the top-right corner: a decision square that is not the corner) | "
           "decision_square_cheese_outside_5x5 (also the cheese outside the maze's top-right 5x5: the mazes of the "
           "published behavioural statistics)")
      .choices = {"all", "decision_square", "decision_square_cheese_outside_5x5"};
  schema
      .add("env.observation", KeyType::kString, "grid",
           "maze: grid = 3 x W x W (wall, cheese, mouse; row 0 = top), rgb = 3 x 64 x 64 in [0, 1] (flat colours), "
           "procgen_rgb = 3 x 64 x 64 in [0, 1] drawn as Procgen draws it (needs env.procgen_assets)")
      .choices = {"grid", "rgb", "procgen_rgb"};
  schema.add("env.procgen_assets", KeyType::kString, "",
             "maze: the folder with Procgen's asset images (procgen/data/assets of a pip install of procgen), "
             "for env.observation = procgen_rgb");
  schema
      .add("env.actions", KeyType::kString, "procgen",
           "maze: procgen = Procgen's 15 actions, compact = left, down, up, right, no-op")
      .choices = {"procgen", "compact"};
}

MazeConfig MazeConfig::from_spec(const Spec& spec) {
  MazeConfig c;
  c.world_size = world_size_of(spec.get_string("env.distribution"));
  c.placement = Placement::parse(spec.get_string("env.placement"));
  c.num_levels = spec.get_int("env.num_levels");
  c.start_level = spec.get_int("env.start_level");
  if (c.num_levels < 0 || c.start_level < 0 || c.start_level + c.num_levels > kLevelSeedRange)
    throw InputError("env.num_levels / env.start_level: expected 0 <= start_level and start_level + num_levels < 2^31");
  for (const char* key : {"env.min_maze_size", "env.max_maze_size"}) {
    const int64_t size = spec.get_int(key);
    if (size != 0 && (size < 3 || size % 2 == 0 || size > c.world_size))
      throw InputError(std::string(key) + " = " + std::to_string(size) + ": expected 0 or an odd size in [3, " +
                       std::to_string(c.world_size) + "]");
  }
  c.min_maze_size = static_cast<int>(spec.get_int("env.min_maze_size"));
  c.max_maze_size = static_cast<int>(spec.get_int("env.max_maze_size"));
  if (c.min_maze_size > 0 && c.max_maze_size > 0 && c.min_maze_size > c.max_maze_size)
    throw InputError("env.min_maze_size = " + std::to_string(c.min_maze_size) +
                     " is larger than env.max_maze_size = " + std::to_string(c.max_maze_size));
  const std::string keep = spec.get_string("env.keep_levels");
  c.keep_levels = keep == "decision_square" ? KeepLevels::kDecisionSquare
                  : keep == "all"           ? KeepLevels::kAll
                                            : KeepLevels::kDecisionSquareCheeseOutside5x5;
  const std::string observation = spec.get_string("env.observation");
  c.observation = observation == "rgb"           ? ObservationKind::kRgb
                  : observation == "procgen_rgb" ? ObservationKind::kProcgenRgb
                                                 : ObservationKind::kGrid;
  c.procgen_assets = spec.get_string("env.procgen_assets");
  c.actions = spec.get_string("env.actions") == "compact" ? ActionSet::kCompact : ActionSet::kProcgen;
  const int64_t max_steps = spec.get_int("env.max_episode_steps");
  if (max_steps < 0) throw InputError("env.max_episode_steps = " + std::to_string(max_steps) + ": expected >= 0");
  c.max_episode_steps = max_steps == 0 ? kDefaultTimeLimit : static_cast<int>(max_steps);
  return c;
}

bool MazeConfig::keeps_maze_dim(int dim) const {
  return (min_maze_size == 0 || dim >= min_maze_size) && (max_maze_size == 0 || dim <= max_maze_size);
}

bool MazeConfig::keeps_layout(const MazeLayout& layout) const {
  if (keep_levels == KeepLevels::kAll) return true;
  if (!offers_corner_or_cheese(layout)) return false;
  return keep_levels == KeepLevels::kDecisionSquare || !in_top_right_region(layout, layout.cheese, 5);
}

std::string MazeConfig::maze_size_limits() const {
  std::string out;
  if (min_maze_size > 0) out = "env.min_maze_size = " + std::to_string(min_maze_size);
  if (max_maze_size > 0)
    out += (out.empty() ? "" : ", ") + std::string("env.max_maze_size = ") + std::to_string(max_maze_size);
  if (keep_levels != KeepLevels::kAll)
    out += (out.empty() ? "" : ", ") + std::string("env.keep_levels = ") +
           (keep_levels == KeepLevels::kDecisionSquare ? "decision_square" : "decision_square_cheese_outside_5x5");
  return out.empty() ? "no maze size limit" : out;
}

MazeEnv::MazeEnv(const MazeConfig& config, uint64_t seed) : config_(config), rng_(seed) {
  if (config_.observation == ObservationKind::kRgb)
    raster_ = std::make_shared<const MazeRaster>(config_.world_size, kRgbSize);
  if (config_.observation == ObservationKind::kProcgenRgb)
    procgen_assets_ = load_procgen_assets(config_.procgen_assets);
  reset();
}

ObservationSpec MazeEnv::observation_spec() const {
  ObservationSpec spec;
  const int64_t side = config_.observation == ObservationKind::kGrid ? config_.world_size : kRgbSize;
  spec.shape = {3, side, side};
  return spec;
}

ActionSpec MazeEnv::action_spec() const {
  ActionSpec spec;
  spec.discrete = true;
  spec.num_actions = config_.actions == ActionSet::kProcgen ? kNumProcgenActions : kNumCompactActions;
  return spec;
}

uint32_t MazeEnv::draw_level_seed() {
  return config_.num_levels == 0
             ? rng_.uniform_int(kLevelSeedRange)
             : static_cast<uint32_t>(config_.start_level + rng_.uniform_int(static_cast<uint32_t>(config_.num_levels)));
}

void MazeEnv::reset() {
  // Every size is drawn with probability >= 1/12 and a kept level is not rare, so a level range
  // without a kept maze is the only way to exhaust these tries.
  constexpr int kMaxTries = 100000;
  for (int tries = 1;; ++tries) {
    const uint32_t level = draw_level_seed();
    if (config_.keeps_maze_dim(maze_dim_of(level, config_.world_size))) {
      layout_ = generate_maze(level, config_.world_size, config_.placement);
      if (config_.keeps_layout(layout_)) break;
    }
    if (tries >= kMaxTries)
      throw InputError(config_.maze_size_limits() + ": no level kept in " + std::to_string(kMaxTries) +
                       " draws from the level range");
  }
  start_episode();
}

void MazeEnv::start_episode() {
  // Procgen's mouse sprite faces left until the first rightward move (is_reflected starts false);
  // the grid and flat rgb observations keep their own convention (facing right at the start).
  mouse_ = MouseState{layout_.start, config_.observation == ObservationKind::kProcgenRgb};
  previous_position_ = mouse_.position;
  previous_facing_left_ = mouse_.facing_left;
  steps_ = 0;
  return_ = 0.0;
  reached_cheese_ = false;
  reached_corner_ = false;
  truncated_ = false;
}

void MazeEnv::reset_to_level(uint32_t level_seed) {
  layout_ = generate_maze(level_seed, config_.world_size, config_.placement);
  start_episode();
}

void MazeEnv::set_layout(const MazeLayout& layout) {
  if (layout.world_size != config_.world_size)
    throw InputError("maze of world size " + std::to_string(layout.world_size) + " given to an environment of size " +
                     std::to_string(config_.world_size));
  layout_ = layout;
  start_episode();
}

void MazeEnv::remove_cheese() {
  layout_.cheese = Cell{};
  start_episode();
}

void MazeEnv::move_cheese(Cell cell) {
  if (layout_.is_wall(cell) || cell == layout_.start)
    throw InputError("cannot put the cheese on (" + std::to_string(cell.x) + ", " + std::to_string(cell.y) +
                     "): not a free cell other than the start");
  layout_.cheese = cell;
  start_episode();
}

void MazeEnv::place_mouse(Cell cell) {
  if (layout_.is_wall(cell))
    throw InputError("cannot put the mouse on (" + std::to_string(cell.x) + ", " + std::to_string(cell.y) +
                     "): not a free cell");
  mouse_.position = cell;
  previous_position_ = cell;
}

StepResult MazeEnv::step(const Action& action) {
  const int64_t n = config_.actions == ActionSet::kProcgen ? kNumProcgenActions : kNumCompactActions;
  if (action.index < 0 || action.index >= n)
    throw InputError("maze action " + std::to_string(action.index) + ": expected 0.." + std::to_string(n - 1));
  const int move = config_.actions == ActionSet::kProcgen ? compact_action_of(static_cast<int>(action.index))
                                                          : static_cast<int>(action.index);
  static constexpr int kDx[5] = {-1, 0, 0, 1, 0};
  static constexpr int kDy[5] = {0, -1, 1, 0, 0};
  previous_position_ = mouse_.position;
  previous_facing_left_ = mouse_.facing_left;
  if (kDx[move] != 0) mouse_.facing_left = kDx[move] < 0;  // the sprite turns even against a wall
  const Cell target{mouse_.position.x + kDx[move], mouse_.position.y + kDy[move]};
  if (!layout_.is_wall(target)) mouse_.position = target;

  ++steps_;
  StepResult result;
  if (mouse_.position == layout_.cheese) {
    reached_cheese_ = true;
    result.reward = kCheeseReward;
    result.terminated = true;
  } else {
    if (mouse_.position == layout_.top_right() && !reached_cheese_) reached_corner_ = true;
    if (steps_ >= config_.max_episode_steps) result.truncated = truncated_ = true;
  }
  return_ += result.reward;
  return result;
}

void MazeEnv::write_observation(float* out) const {
  if (procgen_assets_) {
    draw_procgen_observation(*procgen_assets_, layout_, mouse_, out);
    return;
  }
  if (raster_) {
    raster_->draw(layout_, mouse_, out);
    return;
  }
  const int w = config_.world_size;
  const size_t plane = static_cast<size_t>(w) * w;
  for (int y = 0; y < w; ++y) {
    const size_t row = static_cast<size_t>(w - 1 - y) * w;  // row 0 is the top of the world
    for (int x = 0; x < w; ++x) out[row + x] = layout_.walls[y * w + x] ? 1.0f : 0.0f;
  }
  std::memset(out + plane, 0, 2 * plane * sizeof(float));
  if (layout_.has_cheese()) out[plane + (w - 1 - layout_.cheese.y) * w + layout_.cheese.x] = 1.0f;
  out[2 * plane + (w - 1 - mouse_.position.y) * w + mouse_.position.x] = 1.0f;
}

void MazeEnv::update_observation(float* out) const {
  if (procgen_assets_) {
    // Walls drawn 0.02 cell larger, the cheese and the background lie under the mouse: redraw it all.
    if (previous_position_ == mouse_.position && previous_facing_left_ == mouse_.facing_left) return;
    draw_procgen_observation(*procgen_assets_, layout_, mouse_, out);
    return;
  }
  if (raster_) {
    if (previous_position_ == mouse_.position && previous_facing_left_ == mouse_.facing_left) return;
    const Cell cells[2] = {previous_position_, mouse_.position};
    raster_->redraw_cells(layout_, mouse_, cells, 2, out);
    return;
  }
  const int w = config_.world_size;
  float* mouse_plane = out + 2 * static_cast<size_t>(w) * w;
  mouse_plane[(w - 1 - previous_position_.y) * w + previous_position_.x] = 0.0f;
  mouse_plane[(w - 1 - mouse_.position.y) * w + mouse_.position.x] = 1.0f;
}

EpisodeStats MazeEnv::episode_stats() const {
  EpisodeStats stats;
  stats.episode_return = return_;
  stats.length = steps_;
  stats.terminated = reached_cheese_;
  stats.metrics["reached_cheese"] = reached_cheese_ ? 1.0 : 0.0;
  stats.metrics["reached_corner"] = reached_corner_ ? 1.0 : 0.0;
  stats.metrics["level_seed"] = layout_.level_seed;
  return stats;
}

Frame MazeEnv::draw() const {
  constexpr int kMinPixels = 360;  // Procgen's 64 x 64 shows a hard maze at 2.56 pixels per cell
  const int world = layout_.world_size;
  const int size = (kMinPixels + world - 1) / world * world;  // whole pixels per cell
  Frame frame{size, size, std::vector<float>(3 * static_cast<size_t>(size) * size)};
  MazeRaster(world, size).draw(layout_, mouse_, frame.chw.data());
  return frame;
}

std::string MazeEnv::to_string() const {
  std::ostringstream out;
  out << "maze level " << layout_.level_seed << " step " << steps_ << " mouse (" << mouse_.position.x << ", "
      << mouse_.position.y << ") facing " << (mouse_.facing_left ? "left" : "right") << " return " << return_ << '\n';
  const int w = layout_.world_size;
  for (int y = w - 1; y >= 0; --y) {
    for (int x = 0; x < w; ++x) {
      const Cell c{x, y};
      out << (c == mouse_.position ? 'M' : c == layout_.cheese ? 'C' : layout_.is_wall(c) ? '#' : '.');
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace shardlab::maze
