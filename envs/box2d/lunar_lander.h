// Gymnasium's LunarLander-v3 on Box2D 2.4: land between the flags, discrete (4 actions) or
// continuous (main, lateral in [-1, 1]), optional wind and turbulence. The facts (constants,
// reset, engines, reward, terminations) are in ../shared/reference/box2d.md.
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
class SpecSchema;
}  // namespace shardlab

namespace shardlab::box2d {

namespace lander {
constexpr float kFps = 50.0f;
constexpr float kScale = 30.0f;  // pixels per world unit
constexpr float kMainEnginePower = 13.0f;
constexpr float kSideEnginePower = 0.6f;
constexpr float kInitialRandomForce = 1000.0f;       // N, each axis, at reset
constexpr float kLegAway = 20.0f, kLegDown = 18.0f;  // pixels
constexpr float kLegW = 2.0f, kLegH = 8.0f;          // pixels, half-extents
constexpr float kLegSpringTorque = 40.0f;
constexpr float kSideEngineHeight = 14.0f, kSideEngineAway = 12.0f;  // pixels
constexpr float kMainEngineY = 4.0f;                                 // pixels
constexpr float kViewportW = 600.0f, kViewportH = 400.0f;            // pixels
constexpr float kW = kViewportW / kScale;                            // 20 world units
constexpr float kH = kViewportH / kScale;                            // 13.33 world units
constexpr int kChunks = 11;
constexpr int kObservationSize = 8;
constexpr int kDefaultTimeLimit = 1000;

// Discrete actions.
enum DiscreteAction : int { kNoop = 0, kFireLeft = 1, kFireMain = 2, kFireRight = 3 };
}  // namespace lander

struct LanderConfig {
  bool continuous = false;
  float gravity = -10.0f;
  bool enable_wind = false;
  float wind_power = 15.0f;
  float turbulence_power = 1.5f;
  int max_episode_steps = lander::kDefaultTimeLimit;

  static LanderConfig from_spec(const Spec& spec, bool continuous);
};

// env.gravity, env.enable_wind, env.wind_power, env.turbulence_power (both lander variants).
void declare_lander_keys(SpecSchema& schema);

// Why an episode ended (kNone while it runs).
enum class LanderOutcome { kNone, kCrashed, kLanded, kOutOfBounds, kTimeout };

// Gymnasium's shaping potential of an observation (reward = its difference minus fuel).
float lander_shaping(const float* observation);

class LunarLanderEnv : public Env {
 public:
  LunarLanderEnv(const LanderConfig& config, uint64_t seed);
  ~LunarLanderEnv() override;
  LunarLanderEnv(const LunarLanderEnv&) = delete;
  LunarLanderEnv& operator=(const LunarLanderEnv&) = delete;

  std::string name() const override { return config_.continuous ? "lunar_lander_continuous" : "lunar_lander"; }
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
  const LanderConfig& config() const { return config_; }
  b2World& world() { return *world_; }
  b2Body* lander_body() { return lander_; }
  b2Body* leg(int i) { return legs_[i]; }
  bool leg_contact(int i) const { return leg_contacts_[i] > 0; }
  float helipad_y() const { return helipad_y_; }
  LanderOutcome outcome() const { return outcome_; }

 private:
  class ContactListener;
  void build_world();
  void apply_wind();
  // Applies the engines' impulses for the command; returns (main power, side power).
  std::pair<float, float> fire_engines(float main, float lateral);
  StepResult advance(float main, float lateral);
  void compute_observation();

  LanderConfig config_;
  Rng rng_;
  Rng episode_rng_;  // rng_ at the start of the episode: clone() replays the episode from it
  std::unique_ptr<b2World> world_;
  std::unique_ptr<ContactListener> listener_;
  b2Body* moon_ = nullptr;
  b2Body* lander_ = nullptr;
  b2Body* legs_[2] = {nullptr, nullptr};
  int leg_contacts_[2] = {0, 0};
  bool body_contact_ = false;
  float helipad_x1_ = 0, helipad_x2_ = 0, helipad_y_ = 0;
  std::vector<b2Vec2> terrain_;  // the surface's vertices, left to right
  int64_t wind_index_ = 0, torque_index_ = 0;

  std::array<float, lander::kObservationSize> observation_{};
  float previous_shaping_ = 0;
  int64_t steps_ = 0;
  double return_ = 0;
  LanderOutcome outcome_ = LanderOutcome::kNone;
  std::vector<float> actions_;           // this episode's actions (main, lateral per step), for clone()
  float last_main_ = 0, last_side_ = 0;  // engine powers of the last step, for drawing flames
};

// A PD-style pilot for both variants: tilts toward the pad, holds a descent profile, cuts the
// engines once a leg is down. Writes (main, lateral) in [-1, 1] from an observation.
void lander_heuristic(const float* observation, float* main_lateral);
// The discrete action closest to the continuous command.
int lander_heuristic_discrete(const float* observation);

}  // namespace shardlab::box2d
