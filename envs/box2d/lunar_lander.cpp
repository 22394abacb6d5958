#include "envs/box2d/lunar_lander.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"

namespace shardlab::box2d {

using namespace lander;

namespace {

constexpr float kTimeStep = 1.0f / kFps;
constexpr int kVelocityIterations = 6 * 30, kPositionIterations = 2 * 30;
constexpr float kCrashReward = -100.0f, kLandedReward = 100.0f;
constexpr float kMainFuelCost = 0.3f, kSideFuelCost = 0.03f;  // per step at full power
constexpr uint16 kGroundCategory = 0x0001, kLanderCategory = 0x0010, kLegCategory = 0x0020;

float clip(float v, float lo, float hi) { return std::min(hi, std::max(lo, v)); }

// The heuristic pilot's gains (see pilot_demand), chosen on seeds other than the tests' ones.
constexpr float kTiltPerMetre = 0.05f, kTiltPerSpeed = 0.2f;      // rad per m off the pad, per m/s of drift
constexpr float kAngleGain = 10.0f, kSpinGain = 8.0f;             // attitude PD
constexpr float kHoldHeightPerMetre = 0.4f;                       // m of height kept per m off-centre
constexpr float kDescentRate = 0.8f;                              // 1/s: target descent speed per m of height
constexpr float kTouchdownSpeed = 0.3f, kMaxDescent = 4.0f;       // m/s
constexpr float kHoverCommand = 0.15f;                            // main command that about cancels gravity
constexpr float kClimbGain = 1.0f;                                // main command per m/s of missing climb
constexpr float kClimbThreshold = 0.2f, kTorqueThreshold = 0.5f;  // discrete: fire above these

}  // namespace

// Counts leg contacts (a leg may touch two terrain edges at once; Gymnasium keeps a flag that the
// first EndContact clears) and notes any contact of the lander's body, which is a crash.
class LunarLanderEnv::ContactListener : public b2ContactListener {
 public:
  explicit ContactListener(LunarLanderEnv& env) : env_(env) {}
  void BeginContact(b2Contact* contact) override { update(contact, +1); }
  void EndContact(b2Contact* contact) override { update(contact, -1); }

 private:
  void update(b2Contact* contact, int delta) {
    for (const b2Body* body : {contact->GetFixtureA()->GetBody(), contact->GetFixtureB()->GetBody()}) {
      if (body == env_.lander_ && delta > 0) env_.body_contact_ = true;
      for (int i = 0; i < 2; ++i)
        if (body == env_.legs_[i]) env_.leg_contacts_[i] = std::max(0, env_.leg_contacts_[i] + delta);
    }
  }
  LunarLanderEnv& env_;
};

void declare_lander_keys(SpecSchema& schema) {
  schema.add("env.gravity", KeyType::kFloat, "-10", "lunar_lander: gravity (m/s^2), in (-12, 0)").check =
      [](const std::string& v) {
        const double g = std::stod(v);
        if (!(g > -12.0 && g < 0.0)) throw InputError("expected a value in (-12, 0)");
      };
  schema.add("env.enable_wind", KeyType::kBool, "false",
             "lunar_lander: wind and turbulence while no leg touches the ground");
  schema
      .add("env.wind_power", KeyType::kFloat, "15", "lunar_lander: peak lateral wind force (Gymnasium suggests 0..20)")
      .check = [](const std::string& v) {
    if (!(std::stod(v) >= 0.0)) throw InputError("expected a value >= 0");
  };
  schema
      .add("env.turbulence_power", KeyType::kFloat, "1.5",
           "lunar_lander: peak turbulence torque (Gymnasium suggests 0..2)")
      .check = [](const std::string& v) {
    if (!(std::stod(v) >= 0.0)) throw InputError("expected a value >= 0");
  };
}

LanderConfig LanderConfig::from_spec(const Spec& spec, bool continuous) {
  LanderConfig c;
  c.continuous = continuous;
  c.gravity = static_cast<float>(spec.get_float("env.gravity"));
  c.enable_wind = spec.get_bool("env.enable_wind");
  c.wind_power = static_cast<float>(spec.get_float("env.wind_power"));
  c.turbulence_power = static_cast<float>(spec.get_float("env.turbulence_power"));
  const int64_t limit = spec.get_int("env.max_episode_steps");
  if (limit < 0) throw InputError("env.max_episode_steps = " + std::to_string(limit) + ": expected >= 0");
  c.max_episode_steps = limit == 0 ? kDefaultTimeLimit : static_cast<int>(limit);
  return c;
}

float lander_shaping(const float* s) {
  return -100.0f * std::sqrt(s[0] * s[0] + s[1] * s[1]) - 100.0f * std::sqrt(s[2] * s[2] + s[3] * s[3]) -
         100.0f * std::fabs(s[4]) + 10.0f * s[6] + 10.0f * s[7];
}

LunarLanderEnv::LunarLanderEnv(const LanderConfig& config, uint64_t seed) : config_(config), rng_(seed) { reset(); }

LunarLanderEnv::~LunarLanderEnv() = default;

ObservationSpec LunarLanderEnv::observation_spec() const {
  ObservationSpec spec;
  spec.shape = {kObservationSize};
  // Gymnasium's per-dimension box (+-2.5 positions, +-10 velocities, +-2 pi angle) is not
  // enforced by the physics: the lander may spin past it, so no bound is claimed.
  spec.low = -INFINITY;
  spec.high = INFINITY;
  return spec;
}

ActionSpec LunarLanderEnv::action_spec() const {
  ActionSpec spec;
  spec.discrete = !config_.continuous;
  if (config_.continuous) {
    spec.dim = 2;
    spec.low = -1.0f;
    spec.high = 1.0f;
  } else {
    spec.num_actions = 4;
  }
  return spec;
}

void LunarLanderEnv::build_world() {
  world_ = std::make_unique<b2World>(b2Vec2(0.0f, config_.gravity));
  listener_ = std::make_unique<ContactListener>(*this);
  world_->SetContactListener(listener_.get());
  leg_contacts_[0] = leg_contacts_[1] = 0;
  body_contact_ = false;

  // Terrain: 11 chunk heights, the middle five flat at the helipad's height, then smoothed.
  float height[kChunks + 1];
  for (float& h : height) h = static_cast<float>(rng_.uniform01()) * kH / 2;
  float chunk_x[kChunks];
  for (int i = 0; i < kChunks; ++i) chunk_x[i] = kW / (kChunks - 1) * i;
  helipad_x1_ = chunk_x[kChunks / 2 - 1];
  helipad_x2_ = chunk_x[kChunks / 2 + 1];
  helipad_y_ = kH / 4;
  for (int i = kChunks / 2 - 2; i <= kChunks / 2 + 2; ++i) height[i] = helipad_y_;
  terrain_.clear();
  for (int i = 0; i < kChunks; ++i) {
    const float left = height[i == 0 ? kChunks : i - 1];  // Gymnasium wraps to the spare last height
    terrain_.push_back({chunk_x[i], 0.33f * (left + height[i] + height[i + 1])});
  }

  b2BodyDef moon_def;
  moon_ = world_->CreateBody(&moon_def);
  b2EdgeShape edge;
  b2FixtureDef edge_fixture;
  edge_fixture.shape = &edge;
  edge_fixture.density = 0.0f;
  edge_fixture.friction = 0.1f;
  edge_fixture.filter.categoryBits = kGroundCategory;
  edge.SetTwoSided({0.0f, 0.0f}, {kW, 0.0f});
  moon_->CreateFixture(&edge_fixture);
  for (int i = 0; i + 1 < kChunks; ++i) {
    edge.SetTwoSided(terrain_[i], terrain_[i + 1]);
    moon_->CreateFixture(&edge_fixture);
  }

  // The lander, pushed by a random force in its first step.
  const float start_y = kH;
  b2BodyDef body_def;
  body_def.type = b2_dynamicBody;
  body_def.position.Set(kW / 2, start_y);
  lander_ = world_->CreateBody(&body_def);
  const b2Vec2 hull[6] = {{-14, 17}, {-17, 0}, {-17, -10}, {17, -10}, {17, 0}, {14, 17}};
  b2Vec2 scaled[6];
  for (int i = 0; i < 6; ++i) scaled[i] = {hull[i].x / kScale, hull[i].y / kScale};
  b2PolygonShape hull_shape;
  hull_shape.Set(scaled, 6);
  b2FixtureDef hull_fixture;
  hull_fixture.shape = &hull_shape;
  hull_fixture.density = 5.0f;
  hull_fixture.friction = 0.1f;
  hull_fixture.restitution = 0.0f;
  hull_fixture.filter.categoryBits = kLanderCategory;
  hull_fixture.filter.maskBits = kGroundCategory;
  lander_->CreateFixture(&hull_fixture);
  const float fx = static_cast<float>(rng_.uniform01() * 2 - 1) * kInitialRandomForce;
  const float fy = static_cast<float>(rng_.uniform01() * 2 - 1) * kInitialRandomForce;
  lander_->ApplyForceToCenter({fx, fy}, true);

  // Two legs on spring-like motors, i = -1 then +1.
  for (int k = 0; k < 2; ++k) {
    const float i = k == 0 ? -1.0f : 1.0f;
    b2BodyDef leg_def;
    leg_def.type = b2_dynamicBody;
    leg_def.position.Set(kW / 2 - i * kLegAway / kScale, start_y);
    leg_def.angle = i * 0.05f;
    legs_[k] = world_->CreateBody(&leg_def);
    b2PolygonShape leg_shape;
    leg_shape.SetAsBox(kLegW / kScale, kLegH / kScale);
    b2FixtureDef leg_fixture;
    leg_fixture.shape = &leg_shape;
    leg_fixture.density = 1.0f;
    leg_fixture.restitution = 0.0f;
    leg_fixture.filter.categoryBits = kLegCategory;
    leg_fixture.filter.maskBits = kGroundCategory;
    legs_[k]->CreateFixture(&leg_fixture);

    b2RevoluteJointDef joint;
    joint.bodyA = lander_;
    joint.bodyB = legs_[k];
    joint.localAnchorA.Set(0.0f, 0.0f);
    joint.localAnchorB.Set(i * kLegAway / kScale, kLegDown / kScale);
    joint.referenceAngle = legs_[k]->GetAngle() - lander_->GetAngle();  // pybox2d sets this implicitly
    joint.enableMotor = true;
    joint.enableLimit = true;
    joint.maxMotorTorque = kLegSpringTorque;
    joint.motorSpeed = 0.3f * i;
    joint.lowerAngle = k == 0 ? 0.4f : -0.9f;
    joint.upperAngle = k == 0 ? 0.9f : -0.4f;
    world_->CreateJoint(&joint);
  }

  if (config_.enable_wind) {
    // Gymnasium's integers(-9999, 9999): the phase of the wind and turbulence series.
    wind_index_ = static_cast<int64_t>(rng_.uniform_int(19998)) - 9999;
    torque_index_ = static_cast<int64_t>(rng_.uniform_int(19998)) - 9999;
  }
}

void LunarLanderEnv::reset() {
  episode_rng_ = rng_;
  build_world();
  steps_ = 0;
  return_ = 0.0;
  outcome_ = LanderOutcome::kNone;
  actions_.clear();
  // Gymnasium's reset takes one no-op step to settle contacts and set the shaping baseline;
  // it is not part of the episode.
  compute_observation();
  advance(0.0f, 0.0f);
  previous_shaping_ = lander_shaping(observation_.data());
  outcome_ = LanderOutcome::kNone;
  last_main_ = last_side_ = 0.0f;
}

void LunarLanderEnv::apply_wind() {
  if (!config_.enable_wind || leg_contacts_[0] > 0 || leg_contacts_[1] > 0) return;
  // A smooth, non-periodic series: tanh(sin(2 k t) + sin(pi k t)) with k = 0.01.
  auto series = [](int64_t t) {
    const double x = static_cast<double>(t);
    return std::tanh(std::sin(0.02 * x) + std::sin(M_PI * 0.01 * x));
  };
  lander_->ApplyForceToCenter({static_cast<float>(series(wind_index_++) * config_.wind_power), 0.0f}, true);
  lander_->ApplyTorque(static_cast<float>(series(torque_index_++) * config_.turbulence_power), true);
}

std::pair<float, float> LunarLanderEnv::fire_engines(float main, float lateral) {
  const float angle = lander_->GetAngle();
  const b2Vec2 tip(std::sin(angle), std::cos(angle));
  const b2Vec2 side(-tip.y, tip.x);
  // Exhaust dispersion, drawn every step whether or not an engine fires.
  const float d0 = static_cast<float>(rng_.uniform01() * 2 - 1) / kScale;
  const float d1 = static_cast<float>(rng_.uniform01() * 2 - 1) / kScale;
  const b2Vec2 pos = lander_->GetPosition();

  float main_power = 0.0f;
  if (main > 0.0f) {
    main_power = (clip(main, 0.0f, 1.0f) + 1.0f) / 2.0f;  // the main engine cannot run below half power
    const float down = kMainEngineY / kScale + 2.0f * d0;
    const b2Vec2 offset(tip.x * down + side.x * d1, -tip.y * down - side.y * d1);
    lander_->ApplyLinearImpulse(-kMainEnginePower * main_power * offset, pos + offset, true);
  }
  float side_power = 0.0f;
  if (std::fabs(lateral) > 0.5f) {
    const float direction = lateral > 0.0f ? 1.0f : -1.0f;
    side_power = clip(std::fabs(lateral), 0.5f, 1.0f);
    const float away = 3.0f * d1 + direction * kSideEngineAway / kScale;
    const b2Vec2 offset(tip.x * d0 + side.x * away, -tip.y * d0 - side.y * away);
    const b2Vec2 at(pos.x + offset.x - tip.x * 17.0f / kScale, pos.y + offset.y + tip.y * kSideEngineHeight / kScale);
    lander_->ApplyLinearImpulse(-kSideEnginePower * side_power * offset, at, true);
  }
  return {main_power, side_power};
}

void LunarLanderEnv::compute_observation() {
  const b2Vec2 pos = lander_->GetPosition();
  const b2Vec2 vel = lander_->GetLinearVelocity();
  observation_[0] = (pos.x - kW / 2) / (kW / 2);
  observation_[1] = (pos.y - (helipad_y_ + kLegDown / kScale)) / (kH / 2);
  observation_[2] = vel.x * (kW / 2) / kFps;
  observation_[3] = vel.y * (kH / 2) / kFps;
  observation_[4] = lander_->GetAngle();
  observation_[5] = 20.0f * lander_->GetAngularVelocity() / kFps;
  observation_[6] = leg_contacts_[0] > 0 ? 1.0f : 0.0f;
  observation_[7] = leg_contacts_[1] > 0 ? 1.0f : 0.0f;
}

StepResult LunarLanderEnv::advance(float main, float lateral) {
  apply_wind();
  std::tie(last_main_, last_side_) = fire_engines(main, lateral);
  world_->Step(kTimeStep, kVelocityIterations, kPositionIterations);
  compute_observation();

  StepResult result;
  const float shaping = lander_shaping(observation_.data());
  result.reward = shaping - previous_shaping_ - kMainFuelCost * last_main_ - kSideFuelCost * last_side_;
  previous_shaping_ = shaping;
  if (body_contact_ || std::fabs(observation_[0]) >= 1.0f) {
    outcome_ = body_contact_ ? LanderOutcome::kCrashed : LanderOutcome::kOutOfBounds;
    result.reward = kCrashReward;
    result.terminated = true;
  }
  if (!lander_->IsAwake()) {  // at rest: Box2D put the lander and its legs to sleep
    outcome_ = LanderOutcome::kLanded;
    result.reward = kLandedReward;
    result.terminated = true;
  }
  return result;
}

StepResult LunarLanderEnv::step(const Action& action) {
  float main = 0.0f, lateral = 0.0f;
  if (config_.continuous) {
    if (!action.values) throw InputError("lunar_lander_continuous: expected 2 action values");
    main = action.values[0];
    lateral = action.values[1];
    if (!std::isfinite(main) || !std::isfinite(lateral))
      throw InputError("lunar_lander_continuous: action values must be finite");
    main = clip(main, -1.0f, 1.0f);
    lateral = clip(lateral, -1.0f, 1.0f);
  } else {
    if (action.index < 0 || action.index > 3)
      throw InputError("lunar_lander action " + std::to_string(action.index) + ": expected 0..3");
    // The discrete actions are the continuous commands at full power.
    main = action.index == kFireMain ? 1.0f : 0.0f;
    lateral = action.index == kFireLeft ? -1.0f : action.index == kFireRight ? 1.0f : 0.0f;
  }
  actions_.push_back(main);
  actions_.push_back(lateral);
  StepResult result = advance(main, lateral);
  ++steps_;
  if (!result.terminated && steps_ >= config_.max_episode_steps) {
    result.truncated = true;
    outcome_ = LanderOutcome::kTimeout;
  }
  return_ += result.reward;
  return result;
}

void LunarLanderEnv::write_observation(float* out) const { std::copy(observation_.begin(), observation_.end(), out); }

EpisodeStats LunarLanderEnv::episode_stats() const {
  EpisodeStats stats;
  stats.episode_return = return_;
  stats.length = steps_;
  stats.terminated = outcome_ == LanderOutcome::kCrashed || outcome_ == LanderOutcome::kLanded ||
                     outcome_ == LanderOutcome::kOutOfBounds;
  stats.metrics["lander/crashed"] = outcome_ == LanderOutcome::kCrashed ? 1.0 : 0.0;
  stats.metrics["lander/landed"] = outcome_ == LanderOutcome::kLanded ? 1.0 : 0.0;
  stats.metrics["lander/out_of_bounds"] = outcome_ == LanderOutcome::kOutOfBounds ? 1.0 : 0.0;
  stats.metrics["lander/timeout"] = outcome_ == LanderOutcome::kTimeout ? 1.0 : 0.0;
  return stats;
}

std::string LunarLanderEnv::to_string() const {
  static const char* kOutcomes[] = {"flying", "crashed", "landed", "out of bounds", "timeout"};
  std::ostringstream out;
  out.precision(4);
  const b2Vec2 pos = lander_->GetPosition();
  out << name() << " step " << steps_ << " position (" << pos.x << ", " << pos.y << ") angle " << lander_->GetAngle()
      << " legs " << (leg_contacts_[0] > 0) << (leg_contacts_[1] > 0) << " return " << return_ << " "
      << kOutcomes[static_cast<int>(outcome_)] << "\nobservation";
  for (float v : observation_) out << ' ' << v;
  out << '\n';
  return out.str();
}

std::unique_ptr<Env> LunarLanderEnv::clone() const {
  // A Box2D world cannot be copied (contacts, warm starts, island state); Box2D is
  // deterministic, so the copy replays this episode from its starting RNG state.
  auto copy = std::make_unique<LunarLanderEnv>(config_, 0);
  copy->rng_ = episode_rng_;
  copy->reset();
  for (size_t t = 0; t + 1 < actions_.size(); t += 2) {
    const float values[2] = {actions_[t], actions_[t + 1]};
    if (config_.continuous) {
      copy->step(Action{0, values});
    } else {
      const int64_t index = values[0] > 0 ? kFireMain : values[1] < 0 ? kFireLeft : values[1] > 0 ? kFireRight : kNoop;
      copy->step(Action{index, nullptr});
    }
  }
  copy->rng_ = rng_;  // in case seed() was called mid-episode
  return copy;
}

Scene LunarLanderEnv::scene() const {
  Scene scene;
  scene.left = 0;
  scene.bottom = 0;
  scene.right = kW;
  scene.top = kH;
  scene.width = static_cast<int>(kViewportW);
  scene.height = static_cast<int>(kViewportH);
  scene.background = {0, 0, 0};
  std::vector<b2Vec2> ground = terrain_;
  ground.push_back({kW, 0});
  ground.push_back({0, 0});
  scene.add_polygon(ground, {1, 1, 1});
  for (float x : {helipad_x1_, helipad_x2_}) {
    const float top = helipad_y_ + 50.0f / kScale;
    scene.add_line({{x, helipad_y_}, {x, top}}, {1, 1, 1});
    scene.add_polygon({{x, top}, {x, top - 10.0f / kScale}, {x + 25.0f / kScale, top - 5.0f / kScale}},
                      {0.8f, 0.8f, 0});
  }
  if (last_main_ > 0) {  // the main engine's flame, longer with more power
    const b2Vec2 base = lander_->GetWorldPoint({0, -10.0f / kScale});
    const b2Vec2 tip = lander_->GetWorldPoint({0, -(10.0f + 25.0f * last_main_) / kScale});
    const b2Vec2 l = lander_->GetWorldPoint({-5.0f / kScale, -10.0f / kScale});
    const b2Vec2 r = lander_->GetWorldPoint({5.0f / kScale, -10.0f / kScale});
    scene.add_polygon({l, tip, r, base}, {1, 0.5f, 0});
  }
  const Colour body{0.5f, 0.4f, 0.9f}, outline{0.3f, 0.3f, 0.5f};
  for (const b2Body* leg : legs_) scene.add_body(*leg, body, outline);
  scene.add_body(*lander_, body, outline);
  return scene;
}

namespace {

// What the pilot wants: a change of vertical speed (m/s) and a corrective torque (arbitrary
// units, positive = counter-clockwise), from the observation converted back to metres.
struct PilotDemand {
  float climb = 0;  // target vertical speed minus vertical speed
  float torque = 0;
  bool touched = false;
};

PilotDemand pilot_demand(const float* s) {
  const float px = s[0] * (kW / 2), py = s[1] * (kH / 2);                // m from the pad
  const float vx = s[2] * kFps / (kW / 2), vy = s[3] * kFps / (kH / 2);  // m/s
  const float angle = s[4], spin = s[5] * kFps / 20.0f;                  // rad, rad/s
  PilotDemand d;
  d.touched = s[6] > 0.5f || s[7] > 0.5f;
  if (d.touched) {  // legs down: brake the fall, keep the engines off otherwise so it can rest
    d.climb = -vy;
    return d;
  }
  // Lean so the main engine pushes toward the pad and against drift (a positive angle pushes
  // left); a small tilt limit keeps most thrust vertical.
  constexpr float kMaxTilt = 0.4f;
  const float tilt = clip(kTiltPerMetre * px + kTiltPerSpeed * vx, -kMaxTilt, kMaxTilt);
  d.torque = kAngleGain * (tilt - angle) - kSpinGain * spin;
  // Descend along a glide profile: faster when high, held up while far off-centre.
  const float height = py - kHoldHeightPerMetre * std::fabs(px);
  const float target_vy = clip(-kDescentRate * height - kTouchdownSpeed, -kMaxDescent, 1.0f);
  d.climb = target_vy - vy;
  return d;
}

}  // namespace

// The pilot: a PD attitude loop on a tilt target that carries the lander over the pad, and a
// vertical-speed loop on a glide profile. Main-engine feed-forward is the hover power (about
// 0.57 of full at gravity 10, a command of 0.14).
void lander_heuristic(const float* s, float* out) {
  const PilotDemand d = pilot_demand(s);
  // Once down, the engine only brakes a fall, so the lander can come to rest.
  const float feed_forward = d.touched ? -kClimbGain * kClimbThreshold : kHoverCommand;
  out[0] = clip(feed_forward + kClimbGain * d.climb, -1.0f, 1.0f);
  out[1] = d.touched ? 0.0f : clip(-d.torque, -1.0f, 1.0f);  // lateral > 0 turns clockwise
}

int lander_heuristic_discrete(const float* s) {
  const PilotDemand d = pilot_demand(s);
  // One engine per step: whichever demand is larger against its firing threshold.
  const float climb = d.climb / kClimbThreshold, turn = std::fabs(d.torque) / kTorqueThreshold;
  if (climb > 1.0f && climb >= turn) return kFireMain;
  if (turn > 1.0f && !d.touched) return d.torque < 0 ? kFireRight : kFireLeft;
  return kNoop;
}

}  // namespace shardlab::box2d
