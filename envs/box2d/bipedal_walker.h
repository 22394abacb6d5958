// Gymnasium's BipedalWalker-v3 and BipedalWalkerHardcore-v3 on Box2D 2.4: a hull on two
// two-segment legs, hip and knee motors driven in [-1, 1], a 24-dim observation with 10 lidar
// readings. The facts are in ../shared/reference/box2d.md; the hardcore obstacles (stumps,
// pits, stairs) follow Gymnasium's sizes with our own generator.
#pragma once

#include <box2d/box2d.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "envs/box2d/box2d_draw.h"
#include "envs/env.h"

namespace shardlab {
class Spec;
}  // namespace shardlab

namespace shardlab::box2d {

namespace walker {
constexpr float kFps = 50.0f;
constexpr float kScale = 30.0f;  // pixels per world unit
constexpr float kMotorTorque = 80.0f;
constexpr float kHipSpeed = 4.0f, kKneeSpeed = 6.0f;  // rad/s at full command
constexpr float kLidarRange = 160.0f / kScale;
constexpr float kInitialRandomForce = 5.0f;  // N on x, at reset
constexpr float kLegDown = -8.0f / kScale;
constexpr float kLegW = 8.0f / kScale, kLegH = 34.0f / kScale;
constexpr float kViewportW = 600.0f, kViewportH = 400.0f;  // pixels
constexpr float kTerrainStep = 14.0f / kScale;             // world units between terrain points
constexpr int kTerrainLength = 200;                        // terrain points
constexpr float kTerrainHeight = kViewportH / kScale / 4;
constexpr int kTerrainGrass = 10;     // points; grass stretches are 5..9 points
constexpr int kTerrainStartPad = 20;  // flat points at the start
constexpr float kFriction = 2.5f;
constexpr int kNumLidar = 10;
constexpr int kObservationSize = 14 + kNumLidar;
constexpr int kDefaultTimeLimit = 1600, kHardcoreTimeLimit = 2000;
}  // namespace walker

struct WalkerConfig {
  bool hardcore = false;
  int max_episode_steps = walker::kDefaultTimeLimit;

  static WalkerConfig from_spec(const Spec& spec, bool hardcore);
};

// Why an episode ended (kNone while it runs).
enum class WalkerOutcome { kNone, kFell, kOutOfBounds, kFinished, kTimeout };

// The terrain of one episode: the surface's points (kTerrainLength of them) and the obstacles'
// polygons (hardcore), in world coordinates.
struct WalkerTerrain {
  std::vector<b2Vec2> surface;
  std::vector<std::vector<b2Vec2>> obstacles;
};
WalkerTerrain generate_walker_terrain(Rng& rng, bool hardcore);

class BipedalWalkerEnv : public Env {
 public:
  BipedalWalkerEnv(const WalkerConfig& config, uint64_t seed);
  ~BipedalWalkerEnv() override;
  BipedalWalkerEnv(const BipedalWalkerEnv&) = delete;
  BipedalWalkerEnv& operator=(const BipedalWalkerEnv&) = delete;

  std::string name() const override { return config_.hardcore ? "bipedal_walker_hardcore" : "bipedal_walker"; }
  ObservationSpec observation_spec() const override;
  ActionSpec action_spec() const override;
  void seed(uint64_t seed) override { rng_.reseed(seed); }
  void reset() override;
  StepResult step(const Action& action) override;
  void write_observation(float* out) const override;
  EpisodeStats episode_stats() const override;
  std::string to_string() const override;
  std::unique_ptr<Env> clone() const override;

  Frame draw() const override { return draw_scene(scene()); }
  Scene scene() const;

  // For tests and analysis.
  const WalkerConfig& config() const { return config_; }
  const WalkerTerrain& terrain() const { return terrain_; }
  b2World& world() { return *world_; }
  b2Body* hull() { return hull_; }
  WalkerOutcome outcome() const { return outcome_; }
  // Recomputes the lidar and observation after a test moved bodies by hand.
  void refresh_observation() { compute_observation(); }
  // Ray fraction in [0, 1] from `from` to `to` to the nearest terrain fixture (1 = no hit).
  float lidar_fraction(b2Vec2 from, b2Vec2 to) const;

 private:
  class ContactListener;
  void build_world();
  StepResult advance(const float* action);
  void compute_observation();

  WalkerConfig config_;
  Rng rng_;
  Rng episode_rng_;  // rng_ at the start of the episode: clone() replays the episode from it
  std::unique_ptr<b2World> world_;
  std::unique_ptr<ContactListener> listener_;
  WalkerTerrain terrain_;
  std::vector<b2Body*> terrain_bodies_;
  b2Body* hull_ = nullptr;
  b2Body* legs_[4] = {};             // upper and lower leg of leg -1, then of leg +1
  b2RevoluteJoint* joints_[4] = {};  // hip and knee of leg -1, then of leg +1
  int lower_leg_contacts_[2] = {0, 0};
  bool hull_contact_ = false;

  std::array<float, walker::kObservationSize> observation_{};
  float previous_shaping_ = 0;
  int64_t steps_ = 0;
  double return_ = 0;
  WalkerOutcome outcome_ = WalkerOutcome::kNone;
  std::vector<float> actions_;  // this episode's actions (4 per step), for clone()
};

}  // namespace shardlab::box2d
