#include "envs/box2d/bipedal_walker.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/spec.h"

namespace shardlab::box2d {

using namespace walker;

namespace {

constexpr float kTimeStep = 1.0f / kFps;
constexpr int kVelocityIterations = 6 * 30, kPositionIterations = 2 * 30;
constexpr float kFallReward = -100.0f;
constexpr float kTorqueCost = 0.00035f;  // per unit of torque command, times kMotorTorque
constexpr uint16 kTerrainCategory = 0x0001, kWalkerCategory = 0x0020;
constexpr float kPitDepth = 4 * kTerrainStep;
constexpr float kStairWidth = 4 * kTerrainStep;  // points per stair: 4

float clip(float v, float lo, float hi) { return std::min(hi, std::max(lo, v)); }
float sign(float v) { return v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f; }
int uniform_int(Rng& rng, int lo, int hi) {
  return lo + static_cast<int>(rng.uniform_int(static_cast<uint32_t>(hi - lo)));
}

std::vector<b2Vec2> box(float x0, float y0, float x1, float y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

// The nearest terrain fixture along a ray; walker bodies are not terrain and are skipped.
class LidarCallback : public b2RayCastCallback {
 public:
  float fraction = 1.0f;
  float ReportFixture(b2Fixture* fixture, const b2Vec2&, const b2Vec2&, float f) override {
    if ((fixture->GetFilterData().categoryBits & kTerrainCategory) == 0) return -1.0f;  // ignore, go on
    fraction = f;
    return f;  // clip the ray here: later reports can only be nearer
  }
};

}  // namespace

// The hull touching anything is a fall; the lower legs' contacts are observed.
class BipedalWalkerEnv::ContactListener : public b2ContactListener {
 public:
  explicit ContactListener(BipedalWalkerEnv& env) : env_(env) {}
  void BeginContact(b2Contact* contact) override { update(contact, +1); }
  void EndContact(b2Contact* contact) override { update(contact, -1); }

 private:
  void update(b2Contact* contact, int delta) {
    for (const b2Body* body : {contact->GetFixtureA()->GetBody(), contact->GetFixtureB()->GetBody()}) {
      if (body == env_.hull_ && delta > 0) env_.hull_contact_ = true;
      for (int i = 0; i < 2; ++i)
        if (body == env_.legs_[2 * i + 1])
          env_.lower_leg_contacts_[i] = std::max(0, env_.lower_leg_contacts_[i] + delta);
    }
  }
  BipedalWalkerEnv& env_;
};

WalkerConfig WalkerConfig::from_spec(const Spec& spec, bool hardcore) {
  WalkerConfig c;
  c.hardcore = hardcore;
  const int64_t limit = spec.get_int("env.max_episode_steps");
  if (limit < 0) throw InputError("env.max_episode_steps = " + std::to_string(limit) + ": expected >= 0");
  c.max_episode_steps = limit > 0 ? static_cast<int>(limit) : hardcore ? kHardcoreTimeLimit : kDefaultTimeLimit;
  return c;
}

// The surface is a damped random walk around kTerrainHeight (grass), flat over the start pad.
// Hardcore interleaves grass with one of three obstacles, each a few terrain points long:
//   stump:  a square block 1 or 2 steps high standing on the surface;
//   pit:    a gap 2 or 3 steps wide and 4 deep between two one-step walls;
//   stairs: 3 or 4 blocks 4 steps wide, each one step higher (or lower) than the last.
// The surface under a block runs inside it, so the walker and the lidar meet the block.
WalkerTerrain generate_walker_terrain(Rng& rng, bool hardcore) {
  enum Feature { kGrass, kStump, kPit, kStairs };
  WalkerTerrain t;
  t.surface.reserve(kTerrainLength);
  float y = kTerrainHeight, velocity = 0.0f;
  int i = 0;
  Feature feature = kGrass;
  int remaining = kTerrainStartPad;  // points left in the current stretch
  auto x_of = [](int k) { return k * kTerrainStep; };
  while (i < kTerrainLength) {
    if (remaining == 0) {
      // Grass after an obstacle; after grass, an obstacle (hardcore) or more grass.
      feature = (feature == kGrass && hardcore) ? static_cast<Feature>(uniform_int(rng, 1, 4)) : kGrass;
      remaining = uniform_int(rng, kTerrainGrass / 2, kTerrainGrass);
    }
    if (feature == kGrass) {
      velocity = 0.8f * velocity + 0.01f * sign(kTerrainHeight - y);
      if (i > kTerrainStartPad) velocity += static_cast<float>(rng.uniform01() * 2 - 1) / kScale;
      y += velocity;
      t.surface.push_back({x_of(i), y});
      ++i;
      --remaining;
      continue;
    }
    // Obstacles are laid out whole, from point i on; one that would not fit becomes grass.
    const float x = x_of(i);
    int length = 0;
    if (feature == kStump) {
      const int size = uniform_int(rng, 1, 3);
      t.obstacles.push_back(box(x, y, x + size * kTerrainStep, y + size * kTerrainStep));
      length = size;
      for (int k = 0; k < length; ++k) t.surface.push_back({x_of(i + k), y});
    } else if (feature == kPit) {
      const int gap = uniform_int(rng, 2, 4);
      const int width = gap + 1;  // left wall's point .. right wall's first point
      length = width + 1;
      t.obstacles.push_back(box(x, y - kPitDepth, x + kTerrainStep, y));
      t.obstacles.push_back(box(x_of(i + width), y - kPitDepth, x_of(i + width + 1), y));
      t.surface.push_back({x, y});
      for (int k = 1; k <= width; ++k) t.surface.push_back({x_of(i + k), y - kPitDepth});
    } else {
      const float direction = rng.uniform01() < 0.5 ? -1.0f : 1.0f;
      const int stairs = uniform_int(rng, 3, 5);
      const int per_stair = static_cast<int>(std::lround(kStairWidth / kTerrainStep));
      length = stairs * per_stair;
      const float base = y + std::min(0.0f, direction * (stairs - 1) * kTerrainStep) - kTerrainStep;
      for (int s = 0; s < stairs; ++s) {
        const float top = y + direction * s * kTerrainStep;
        t.obstacles.push_back(box(x_of(i + s * per_stair), base, x_of(i + (s + 1) * per_stair), top));
      }
      t.surface.push_back({x, y});
      for (int k = 1; k < length; ++k) t.surface.push_back({x_of(i + k), base});
      y += direction * (stairs - 1) * kTerrainStep;  // the grass goes on from the last stair's top
    }
    if (i + length + 1 >= kTerrainLength) {  // no room: undo and finish with grass
      t.surface.resize(i);
      t.obstacles.resize(t.obstacles.size() - (feature == kPit ? 2 : feature == kStairs ? length / 4 : 1));
      y = t.surface.empty() ? kTerrainHeight : t.surface.back().y;
      feature = kGrass;
      remaining = kTerrainLength - i;
      continue;
    }
    i += length;
    remaining = 0;
  }
  return t;
}

BipedalWalkerEnv::BipedalWalkerEnv(const WalkerConfig& config, uint64_t seed) : config_(config), rng_(seed) { reset(); }

BipedalWalkerEnv::~BipedalWalkerEnv() = default;

ObservationSpec BipedalWalkerEnv::observation_spec() const {
  ObservationSpec spec;
  spec.shape = {kObservationSize};
  spec.low = -INFINITY;  // as in Gymnasium: velocities and angles are not bounded
  spec.high = INFINITY;
  return spec;
}

ActionSpec BipedalWalkerEnv::action_spec() const {
  ActionSpec spec;
  spec.discrete = false;
  spec.dim = 4;
  spec.low = -1.0f;
  spec.high = 1.0f;
  return spec;
}

void BipedalWalkerEnv::build_world() {
  world_ = std::make_unique<b2World>(b2Vec2(0.0f, -10.0f));
  listener_ = std::make_unique<ContactListener>(*this);
  world_->SetContactListener(listener_.get());
  lower_leg_contacts_[0] = lower_leg_contacts_[1] = 0;
  hull_contact_ = false;

  terrain_ = generate_walker_terrain(rng_, config_.hardcore);
  terrain_bodies_.clear();
  b2BodyDef ground_def;
  b2Body* ground = world_->CreateBody(&ground_def);
  terrain_bodies_.push_back(ground);
  b2EdgeShape edge;
  b2FixtureDef fixture;
  fixture.friction = kFriction;
  fixture.filter.categoryBits = kTerrainCategory;
  fixture.shape = &edge;
  for (size_t i = 0; i + 1 < terrain_.surface.size(); ++i) {
    edge.SetTwoSided(terrain_.surface[i], terrain_.surface[i + 1]);
    ground->CreateFixture(&fixture);
  }
  for (const auto& poly : terrain_.obstacles) {
    b2Body* body = world_->CreateBody(&ground_def);
    b2PolygonShape shape;
    shape.Set(poly.data(), static_cast<int32>(poly.size()));
    fixture.shape = &shape;
    body->CreateFixture(&fixture);
    terrain_bodies_.push_back(body);
  }

  const float init_x = kTerrainStep * kTerrainStartPad / 2;
  const float init_y = kTerrainHeight + 2 * kLegH;
  b2BodyDef hull_def;
  hull_def.type = b2_dynamicBody;
  hull_def.position.Set(init_x, init_y);
  hull_ = world_->CreateBody(&hull_def);
  const b2Vec2 hull_points[5] = {{-30, 9}, {6, 9}, {34, 1}, {34, -8}, {-30, -8}};
  b2Vec2 scaled[5];
  for (int i = 0; i < 5; ++i) scaled[i] = {hull_points[i].x / kScale, hull_points[i].y / kScale};
  b2PolygonShape hull_shape;
  hull_shape.Set(scaled, 5);
  b2FixtureDef body_fixture;
  body_fixture.shape = &hull_shape;
  body_fixture.density = 5.0f;
  body_fixture.friction = 0.1f;
  body_fixture.restitution = 0.0f;
  body_fixture.filter.categoryBits = kWalkerCategory;
  body_fixture.filter.maskBits = kTerrainCategory;
  hull_->CreateFixture(&body_fixture);
  hull_->ApplyForceToCenter({static_cast<float>(rng_.uniform01() * 2 - 1) * kInitialRandomForce, 0.0f}, true);

  for (int k = 0; k < 2; ++k) {
    const float i = k == 0 ? -1.0f : 1.0f;
    b2BodyDef leg_def;
    leg_def.type = b2_dynamicBody;
    leg_def.angle = i * 0.05f;
    body_fixture.density = 1.0f;
    body_fixture.friction = 0.2f;  // b2FixtureDef's default, as Gymnasium leaves it

    leg_def.position.Set(init_x, init_y - kLegH / 2 - kLegDown);
    b2Body* upper = world_->CreateBody(&leg_def);
    b2PolygonShape upper_shape;
    upper_shape.SetAsBox(kLegW / 2, kLegH / 2);
    body_fixture.shape = &upper_shape;
    upper->CreateFixture(&body_fixture);

    leg_def.position.Set(init_x, init_y - kLegH * 3 / 2 - kLegDown);
    b2Body* lower = world_->CreateBody(&leg_def);
    b2PolygonShape lower_shape;
    lower_shape.SetAsBox(0.8f * kLegW / 2, kLegH / 2);
    body_fixture.shape = &lower_shape;
    lower->CreateFixture(&body_fixture);

    b2RevoluteJointDef hip;
    hip.bodyA = hull_;
    hip.bodyB = upper;
    hip.localAnchorA.Set(0.0f, kLegDown);
    hip.localAnchorB.Set(0.0f, kLegH / 2);
    hip.referenceAngle = upper->GetAngle() - hull_->GetAngle();  // pybox2d sets this implicitly
    hip.enableMotor = true;
    hip.enableLimit = true;
    hip.maxMotorTorque = kMotorTorque;
    hip.motorSpeed = i;
    hip.lowerAngle = -0.8f;
    hip.upperAngle = 1.1f;

    b2RevoluteJointDef knee;
    knee.bodyA = upper;
    knee.bodyB = lower;
    knee.localAnchorA.Set(0.0f, -kLegH / 2);
    knee.localAnchorB.Set(0.0f, kLegH / 2);
    knee.referenceAngle = lower->GetAngle() - upper->GetAngle();
    knee.enableMotor = true;
    knee.enableLimit = true;
    knee.maxMotorTorque = kMotorTorque;
    knee.motorSpeed = 1.0f;
    knee.lowerAngle = -1.6f;
    knee.upperAngle = -0.1f;

    legs_[2 * k] = upper;
    legs_[2 * k + 1] = lower;
    joints_[2 * k] = static_cast<b2RevoluteJoint*>(world_->CreateJoint(&hip));
    joints_[2 * k + 1] = static_cast<b2RevoluteJoint*>(world_->CreateJoint(&knee));
  }
}

void BipedalWalkerEnv::reset() {
  episode_rng_ = rng_;
  build_world();
  steps_ = 0;
  return_ = 0.0;
  actions_.clear();
  // Gymnasium's reset takes one step with all motors off to set the shaping baseline; it is not
  // part of the episode.
  compute_observation();
  const float zero[4] = {0, 0, 0, 0};
  advance(zero);
  previous_shaping_ = 130.0f * hull_->GetPosition().x / kScale - 5.0f * std::fabs(observation_[0]);
  outcome_ = WalkerOutcome::kNone;
}

float BipedalWalkerEnv::lidar_fraction(b2Vec2 from, b2Vec2 to) const {
  LidarCallback callback;
  world_->RayCast(&callback, from, to);
  return callback.fraction;
}

void BipedalWalkerEnv::compute_observation() {
  const b2Vec2 pos = hull_->GetPosition();
  const b2Vec2 vel = hull_->GetLinearVelocity();
  float* s = observation_.data();
  s[0] = hull_->GetAngle();
  s[1] = 2.0f * hull_->GetAngularVelocity() / kFps;
  s[2] = 0.3f * vel.x * (kViewportW / kScale) / kFps;
  s[3] = 0.3f * vel.y * (kViewportH / kScale) / kFps;
  for (int k = 0; k < 2; ++k) {
    float* leg = s + 4 + 5 * k;
    leg[0] = joints_[2 * k]->GetJointAngle();
    leg[1] = joints_[2 * k]->GetJointSpeed() / kHipSpeed;
    leg[2] = joints_[2 * k + 1]->GetJointAngle() + 1.0f;
    leg[3] = joints_[2 * k + 1]->GetJointSpeed() / kKneeSpeed;
    leg[4] = lower_leg_contacts_[k] > 0 ? 1.0f : 0.0f;
  }
  // Rays fan out below the hull from straight down to 1.35 rad forward.
  for (int i = 0; i < kNumLidar; ++i) {
    const float a = 1.5f * i / kNumLidar;
    s[14 + i] = lidar_fraction(pos, pos + kLidarRange * b2Vec2(std::sin(a), -std::cos(a)));
  }
}

StepResult BipedalWalkerEnv::advance(const float* action) {
  float effort = 0.0f;
  for (int j = 0; j < 4; ++j) {
    const float speed = (j % 2 == 0) ? kHipSpeed : kKneeSpeed;
    const float strength = clip(std::fabs(action[j]), 0.0f, 1.0f);
    joints_[j]->SetMotorSpeed(speed * sign(action[j]));
    joints_[j]->SetMaxMotorTorque(kMotorTorque * strength);
    effort += strength;
  }
  world_->Step(kTimeStep, kVelocityIterations, kPositionIterations);
  compute_observation();

  StepResult result;
  const float x = hull_->GetPosition().x;
  const float shaping = 130.0f * x / kScale - 5.0f * std::fabs(observation_[0]);  // forward, upright
  result.reward = shaping - previous_shaping_ - kTorqueCost * kMotorTorque * effort;
  previous_shaping_ = shaping;
  if (hull_contact_ || x < 0.0f) {
    outcome_ = hull_contact_ ? WalkerOutcome::kFell : WalkerOutcome::kOutOfBounds;
    result.reward = kFallReward;
    result.terminated = true;
  } else if (x > (kTerrainLength - kTerrainGrass) * kTerrainStep) {
    outcome_ = WalkerOutcome::kFinished;
    result.terminated = true;
  }
  return result;
}

StepResult BipedalWalkerEnv::step(const Action& action) {
  if (!action.values) throw InputError(name() + ": expected 4 action values");
  for (int j = 0; j < 4; ++j)
    if (!std::isfinite(action.values[j])) throw InputError(name() + ": action values must be finite");
  actions_.insert(actions_.end(), action.values, action.values + 4);
  StepResult result = advance(action.values);
  ++steps_;
  if (!result.terminated && steps_ >= config_.max_episode_steps) {
    result.truncated = true;
    outcome_ = WalkerOutcome::kTimeout;
  }
  return_ += result.reward;
  return result;
}

void BipedalWalkerEnv::write_observation(float* out) const { std::copy(observation_.begin(), observation_.end(), out); }

EpisodeStats BipedalWalkerEnv::episode_stats() const {
  EpisodeStats stats;
  stats.episode_return = return_;
  stats.length = steps_;
  stats.terminated = outcome_ == WalkerOutcome::kFell || outcome_ == WalkerOutcome::kOutOfBounds ||
                     outcome_ == WalkerOutcome::kFinished;
  stats.metrics["walker/fell"] = outcome_ == WalkerOutcome::kFell ? 1.0 : 0.0;
  stats.metrics["walker/out_of_bounds"] = outcome_ == WalkerOutcome::kOutOfBounds ? 1.0 : 0.0;
  stats.metrics["walker/finished"] = outcome_ == WalkerOutcome::kFinished ? 1.0 : 0.0;
  stats.metrics["walker/timeout"] = outcome_ == WalkerOutcome::kTimeout ? 1.0 : 0.0;
  return stats;
}

std::string BipedalWalkerEnv::to_string() const {
  static const char* kOutcomes[] = {"walking", "fell", "out of bounds", "finished", "timeout"};
  std::ostringstream out;
  out.precision(4);
  const b2Vec2 pos = hull_->GetPosition();
  out << name() << " step " << steps_ << " hull (" << pos.x << ", " << pos.y << ") angle " << hull_->GetAngle()
      << " feet " << (lower_leg_contacts_[0] > 0) << (lower_leg_contacts_[1] > 0) << " return " << return_ << " "
      << kOutcomes[static_cast<int>(outcome_)] << "\nobservation";
  for (float v : observation_) out << ' ' << v;
  out << '\n';
  return out.str();
}

std::unique_ptr<Env> BipedalWalkerEnv::clone() const {
  // A Box2D world cannot be copied; Box2D is deterministic, so the copy replays this episode
  // from its starting RNG state.
  auto copy = std::make_unique<BipedalWalkerEnv>(config_, 0);
  copy->rng_ = episode_rng_;
  copy->reset();
  for (size_t t = 0; t + 3 < actions_.size(); t += 4) copy->step(Action{0, &actions_[t]});
  copy->rng_ = rng_;  // in case seed() was called mid-episode
  return copy;
}

Scene BipedalWalkerEnv::scene() const {
  Scene scene;
  const float w = kViewportW / kScale, h = kViewportH / kScale;
  scene.left = hull_->GetPosition().x - w / 5;  // Gymnasium's camera: the hull a fifth from the left
  scene.right = scene.left + w;
  scene.bottom = 0;
  scene.top = h;
  scene.width = static_cast<int>(kViewportW);
  scene.height = static_cast<int>(kViewportH);
  scene.background = {0.84f, 0.84f, 1.0f};
  std::vector<b2Vec2> ground = terrain_.surface;
  ground.push_back({ground.back().x, -1.0f});
  ground.push_back({ground.front().x, -1.0f});
  scene.add_polygon(ground, {0.4f, 0.6f, 0.3f});
  for (const b2Body* body : terrain_bodies_) scene.add_body(*body, {1, 1, 1}, {0.6f, 0.6f, 0.6f});
  const b2Vec2 pos = hull_->GetPosition();
  for (int i = 0; i < kNumLidar; ++i) {  // the lidar rays up to what they hit
    const float a = 1.5f * i / kNumLidar;
    const b2Vec2 end = pos + observation_[14 + i] * kLidarRange * b2Vec2(std::sin(a), -std::cos(a));
    scene.add_line({pos, end}, {1, 0, 0});
  }
  const Colour far{0.4f, 0.2f, 0.5f}, near{0.6f, 0.3f, 0.8f}, outline{0.2f, 0.1f, 0.3f};
  for (int k : {1, 0, 3, 2}) scene.add_body(*legs_[k], k < 2 ? far : near, outline);
  scene.add_body(*hull_, {0.5f, 0.4f, 0.9f}, outline);
  return scene;
}

}  // namespace shardlab::box2d
