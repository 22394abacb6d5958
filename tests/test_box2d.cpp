// The Box2D tasks (lunar lander, bipedal walker) against the facts of
// shared/reference/box2d.md: reward shaping, engines, lidar, terminations, and the known
// returns of the random policy and the heuristic pilot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "agents/evaluate.h"
#include "cli/cli.h"
#include "core/error.h"
#include "envs/box2d/bipedal_walker.h"
#include "envs/box2d/lunar_lander.h"
#include "envs/registry.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using box2d::BipedalWalkerEnv;
using box2d::LanderConfig;
using box2d::LunarLanderEnv;
using box2d::WalkerConfig;

// Moves every body of the world by `offset`, keeping joints satisfied; velocities are zeroed.
void shift_world(b2World& world, b2Vec2 offset) {
  for (b2Body* b = world.GetBodyList(); b; b = b->GetNext()) {
    if (b->GetType() != b2_dynamicBody) continue;
    b->SetTransform(b->GetPosition() + offset, b->GetAngle());
    b->SetLinearVelocity({0, 0});
    b->SetAngularVelocity(0);
  }
}

StepResult step_lander(LunarLanderEnv& env, float main, float lateral) {
  const float a[2] = {main, lateral};
  return env.step(Action{0, a});
}

std::vector<float> observation(const Env& env) {
  std::vector<float> obs(env.observation_spec().size());
  env.write_observation(obs.data());
  return obs;
}

Spec spec_for(const std::string& env_name) { return Spec::load(shardlab_schema(), "", {"env.name=" + env_name}); }

TEST(LunarLander, ShapingOfAHandBuiltState) {
  // 0.5 from the pad (3-4-5), at rest, tilted 0.1 rad, one leg down.
  const float s[8] = {0.3f, 0.4f, 0.0f, 0.0f, 0.1f, 0.0f, 1.0f, 0.0f};
  EXPECT_NEAR(box2d::lander_shaping(s), -100 * 0.5 - 100 * 0.1 + 10, 1e-4);
  const float moving[8] = {0.0f, 0.0f, -0.6f, 0.8f, -0.2f, 3.0f, 1.0f, 1.0f};
  EXPECT_NEAR(box2d::lander_shaping(moving), -100 * 1.0 - 100 * 0.2 + 20, 1e-4);
}

TEST(LunarLander, RewardIsShapingDifferenceMinusFuel) {
  LanderConfig config;
  config.continuous = true;
  LunarLanderEnv env(config, 3);
  for (const auto& [main, lateral, fuel] :
       {std::tuple{0.0f, 0.0f, 0.0f}, std::tuple{0.6f, 0.0f, 0.3f * 0.8f}, std::tuple{-1.0f, -0.7f, 0.03f * 0.7f},
        std::tuple{1.0f, 1.0f, 0.3f + 0.03f}}) {
    const float before = box2d::lander_shaping(observation(env).data());
    const StepResult r = step_lander(env, main, lateral);
    ASSERT_FALSE(r.done());
    const float after = box2d::lander_shaping(observation(env).data());
    EXPECT_NEAR(r.reward, after - before - fuel, 1e-4) << "main " << main << " lateral " << lateral;
  }
}

TEST(LunarLander, MainEngineLiftsAndSideEnginesTurn) {
  LanderConfig config;
  config.continuous = true;
  // Same seed: same terrain, push and exhaust dispersion; only the command differs.
  auto after = [&](float main, float lateral) {
    LunarLanderEnv env(config, 9);
    for (int t = 0; t < 5; ++t) step_lander(env, main, lateral);
    return observation(env);
  };
  const auto idle = after(0, 0), lifted = after(1, 0), left = after(0, -1), right = after(0, 1);
  EXPECT_GT(lifted[3] - idle[3], 0.2f);  // vertical velocity, about 5 * 0.35 m/s * 0.133
  EXPECT_GT(left[5], idle[5] + 0.01f);   // lateral -1 turns counter-clockwise
  EXPECT_LT(right[5], idle[5] - 0.01f);
  // A command of 0 .. 1 on the main engine runs it at half to full power.
  const auto half = after(0.01f, 0);
  EXPECT_GT(half[3], idle[3]);
  EXPECT_LT(half[3], lifted[3]);

  // The discrete actions are the same engines at full power.
  LanderConfig discrete;
  auto after_action = [&](int64_t action) {
    LunarLanderEnv env(discrete, 9);
    for (int t = 0; t < 5; ++t) env.step(Action{action, nullptr});
    return observation(env);
  };
  EXPECT_EQ(after_action(box2d::lander::kFireMain), lifted);
  EXPECT_EQ(after_action(box2d::lander::kFireLeft), left);
  EXPECT_EQ(after_action(box2d::lander::kFireRight), right);
  EXPECT_EQ(after_action(box2d::lander::kNoop), idle);
}

TEST(LunarLander, BodyTouchingTheGroundIsACrash) {
  LunarLanderEnv env(LanderConfig{}, 1);
  // Upside down, just above the pad.
  const b2Vec2 pad(box2d::lander::kW / 2, env.helipad_y());
  shift_world(env.world(), pad + b2Vec2(0, 0.2f) - env.lander_body()->GetPosition());
  env.lander_body()->SetTransform(env.lander_body()->GetPosition(), static_cast<float>(M_PI));
  env.lander_body()->SetLinearVelocity({0, -2});
  StepResult r;
  for (int t = 0; t < 20 && !r.done(); ++t) r = env.step(Action{box2d::lander::kNoop, nullptr});
  EXPECT_TRUE(r.terminated);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.reward, -100.0f);
  EXPECT_EQ(env.outcome(), box2d::LanderOutcome::kCrashed);
  const EpisodeStats s = env.episode_stats();
  EXPECT_TRUE(s.terminated);
  EXPECT_EQ(s.metrics.at("lander/crashed"), 1.0);
  EXPECT_EQ(s.metrics.at("lander/landed"), 0.0);
}

TEST(LunarLander, LeavingSidewaysIsOutOfBounds) {
  LunarLanderEnv env(LanderConfig{}, 1);
  shift_world(env.world(), {box2d::lander::kW / 2 + 0.5f, 0.0f});  // past the right edge, high up
  const StepResult r = env.step(Action{box2d::lander::kNoop, nullptr});
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, -100.0f);
  EXPECT_EQ(env.outcome(), box2d::LanderOutcome::kOutOfBounds);
  EXPECT_EQ(env.episode_stats().metrics.at("lander/out_of_bounds"), 1.0);
}

TEST(LunarLander, TimeLimitIsATruncation) {
  LanderConfig config;
  config.max_episode_steps = 5;
  LunarLanderEnv env(config, 1);
  for (int t = 0; t < 4; ++t) ASSERT_FALSE(env.step(Action{box2d::lander::kFireMain, nullptr}).done());
  const StepResult r = env.step(Action{box2d::lander::kFireMain, nullptr});
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  const EpisodeStats s = env.episode_stats();
  EXPECT_FALSE(s.terminated);
  EXPECT_EQ(s.length, 5);
  EXPECT_EQ(s.metrics.at("lander/timeout"), 1.0);
  // The spec's 0 means the task's own limit.
  EXPECT_EQ(LanderConfig::from_spec(spec_for("lunar_lander"), false).max_episode_steps, 1000);
}

TEST(LunarLander, ContinuousActionSpecIsBounded) {
  auto env = make_env(spec_for("lunar_lander_continuous"), 0);
  const ActionSpec a = env->action_spec();
  EXPECT_FALSE(a.discrete);
  EXPECT_EQ(a.dim, 2);
  EXPECT_EQ(a.low, -1.0f);
  EXPECT_EQ(a.high, 1.0f);
  EXPECT_EQ(make_env(spec_for("lunar_lander"), 0)->action_spec().num_actions, 4);
}

TEST(LunarLander, HeuristicPilotScoresAbove200) {
  for (const char* name : {"lunar_lander", "lunar_lander_continuous"}) {
    const EvalResult r = evaluate_scripted(spec_for(name), "heuristic", 100);
    EXPECT_GE(r.mean_return, 200.0) << name;
    EXPECT_GE(r.rates.at("landed_rate").rate, 0.95) << name;
    EXPECT_LT(r.mean_length, 1000.0) << name;
  }
}

TEST(LunarLander, RandomPolicyMatchesKnownReturns) {
  // Gymnasium's random policy averages roughly -150 to -250 and crashes within ~100 steps.
  for (const char* name : {"lunar_lander", "lunar_lander_continuous"}) {
    const EvalResult r = evaluate_scripted(spec_for(name), "random", 100);
    EXPECT_GT(r.mean_return, -275.0) << name;
    EXPECT_LT(r.mean_return, -125.0) << name;
    EXPECT_GT(r.mean_length, 60.0) << name;
    EXPECT_LT(r.mean_length, 200.0) << name;
    EXPECT_EQ(r.rates.at("landed_rate").rate, 0.0) << name;
  }
}

TEST(LunarLander, WindPushesTheLanderSideways) {
  LanderConfig calm, windy;
  windy.enable_wind = true;
  windy.wind_power = 20.0f;
  windy.turbulence_power = 0.0f;
  // Over 40 steps the wind series (period ~300 steps) has a sign; it moves the lander along it.
  double moved = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    LunarLanderEnv a(calm, seed), b(windy, seed);
    for (int t = 0; t < 40; ++t) {
      a.step(Action{box2d::lander::kNoop, nullptr});
      b.step(Action{box2d::lander::kNoop, nullptr});
    }
    moved += std::fabs(observation(b)[2] - observation(a)[2]);
  }
  EXPECT_GT(moved / 8, 0.05);
}

TEST(BipedalWalker, LidarReadsTheDistanceToFlatGround) {
  BipedalWalkerEnv env(WalkerConfig{}, 2);
  const float ground = box2d::walker::kTerrainHeight;  // the start pad is flat at this height
  const float range = box2d::walker::kLidarRange;
  EXPECT_NEAR(env.lidar_fraction({3, ground + 2}, {3, ground + 2 - range}), 2 / range, 1e-5);
  EXPECT_EQ(env.lidar_fraction({3, ground + 2}, {3, ground + 2 + range}), 1.0f);  // upward: nothing
  // The observation's rays from a hull 2 units above the pad.
  shift_world(env.world(), b2Vec2(3, ground + 2) - env.hull()->GetPosition());
  env.refresh_observation();
  const auto obs = observation(env);
  for (int i = 0; i <= 6; ++i) {
    const float a = 1.5f * i / box2d::walker::kNumLidar;
    EXPECT_NEAR(obs[14 + i], 2 / std::cos(a) / range, 1e-4) << "ray " << i;
  }
}

TEST(BipedalWalker, HullTouchingTheGroundIsAFall) {
  BipedalWalkerEnv env(WalkerConfig{}, 2);
  const float ground = box2d::walker::kTerrainHeight;
  shift_world(env.world(), b2Vec2(3, ground + 0.2f) - env.hull()->GetPosition());
  const float zero[4] = {0, 0, 0, 0};
  const StepResult r = env.step(Action{0, zero});
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, -100.0f);
  EXPECT_EQ(env.outcome(), box2d::WalkerOutcome::kFell);
  EXPECT_EQ(env.episode_stats().metrics.at("walker/fell"), 1.0);
}

TEST(BipedalWalker, WalkingBackPastTheStartIsOutOfBounds) {
  BipedalWalkerEnv env(WalkerConfig{}, 2);
  shift_world(env.world(), {-env.hull()->GetPosition().x - 1.0f, 3.0f});
  const float zero[4] = {0, 0, 0, 0};
  const StepResult r = env.step(Action{0, zero});
  EXPECT_TRUE(r.terminated);
  EXPECT_EQ(r.reward, -100.0f);
  EXPECT_EQ(env.outcome(), box2d::WalkerOutcome::kOutOfBounds);
}

TEST(BipedalWalker, ReachingTheEndFinishes) {
  BipedalWalkerEnv env(WalkerConfig{}, 2);
  const b2Vec2 end = env.terrain().surface[box2d::walker::kTerrainLength - 5];
  shift_world(env.world(), b2Vec2(end.x, end.y + 3) - env.hull()->GetPosition());
  const float zero[4] = {0, 0, 0, 0};
  const StepResult r = env.step(Action{0, zero});
  EXPECT_TRUE(r.terminated);
  EXPECT_GT(r.reward, 0.0f);  // the shaping of the jump forward, no penalty
  EXPECT_EQ(env.outcome(), box2d::WalkerOutcome::kFinished);
  EXPECT_EQ(env.episode_stats().metrics.at("walker/finished"), 1.0);
}

TEST(BipedalWalker, TimeLimitIsATruncation) {
  EXPECT_EQ(WalkerConfig::from_spec(spec_for("bipedal_walker"), false).max_episode_steps, 1600);
  EXPECT_EQ(WalkerConfig::from_spec(spec_for("bipedal_walker_hardcore"), true).max_episode_steps, 2000);
  WalkerConfig config;
  config.max_episode_steps = 3;
  BipedalWalkerEnv env(config, 2);
  const float zero[4] = {0, 0, 0, 0};
  env.step(Action{0, zero});
  env.step(Action{0, zero});
  const StepResult r = env.step(Action{0, zero});
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.terminated);
  EXPECT_EQ(env.episode_stats().metrics.at("walker/timeout"), 1.0);
}

TEST(BipedalWalker, MotorsFollowTheActionSigns) {
  // Hip command +1 swings the hip joint forward (positive speed), -1 backward.
  auto hip_speed = [](float command) {
    BipedalWalkerEnv env(WalkerConfig{}, 4);
    const float a[4] = {command, 0, 0, 0};
    for (int t = 0; t < 3; ++t) env.step(Action{0, a});
    return observation(env)[5];
  };
  EXPECT_GT(hip_speed(1.0f), 0.1f);
  EXPECT_LT(hip_speed(-1.0f), -0.1f);
}

TEST(BipedalWalker, TerrainHasObstaclesOnlyInHardcore) {
  int stumps_or_stairs = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng a(seed), b(seed);
    const box2d::WalkerTerrain normal = box2d::generate_walker_terrain(a, false);
    const box2d::WalkerTerrain hard = box2d::generate_walker_terrain(b, true);
    for (const auto* t : {&normal, &hard}) {
      ASSERT_EQ(t->surface.size(), static_cast<size_t>(box2d::walker::kTerrainLength));
      for (size_t i = 0; i < t->surface.size(); ++i)
        ASSERT_NEAR(t->surface[i].x, i * box2d::walker::kTerrainStep, 1e-4);
    }
    EXPECT_TRUE(normal.obstacles.empty());
    EXPECT_FALSE(hard.obstacles.empty());
    stumps_or_stairs += static_cast<int>(hard.obstacles.size());
    // The start pad is flat in both.
    for (int i = 0; i < box2d::walker::kTerrainStartPad; ++i)
      EXPECT_EQ(hard.surface[i].y, box2d::walker::kTerrainHeight);
  }
  EXPECT_GT(stumps_or_stairs, 20 * 5);
}

TEST(BipedalWalker, RandomPolicyMatchesKnownReturns) {
  // Gymnasium's random policy scores around -90 to -120 and usually falls.
  for (const char* name : {"bipedal_walker", "bipedal_walker_hardcore"}) {
    const EvalResult r = evaluate_scripted(spec_for(name), "random", 16);
    EXPECT_GT(r.mean_return, -130.0) << name;
    EXPECT_LT(r.mean_return, -80.0) << name;
    EXPECT_GE(r.rates.at("fell_rate").rate, 0.4) << name;
    EXPECT_EQ(r.rates.at("finished_rate").rate, 0.0) << name;
  }
}

}  // namespace
}  // namespace shardlab

namespace shardlab {
namespace {

// The commands run in-process (a CLI process spends a second loading libtorch); the exit code
// and one-line error of a bad flag are checked once through the binary.
std::string run_in_process(int (*command)(const std::vector<std::string>&), const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  const int code = command(args);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0);
  return out;
}

TEST(Box2DCli, EvalWritesTheJsonOfAScriptedPolicy) {
  const std::string path = test::make_temp_dir() + "/e.json";
  const std::string out = run_in_process(
      cli::cmd_eval, {"--env", "lunar_lander_continuous", "--policy", "heuristic", "--episodes", "8", "--out", path});
  const std::string json = test::read_file(path);
  EXPECT_EQ(json, out);
  for (const char* key :
       {"\"episodes\": 8", "\"mean_return\"", "\"mean_length\"", "\"landed_rate\"", "\"crashed_rate\"",
        "\"out_of_bounds_rate\"", "\"timeout_rate_ci95\"", "\"policy\": \"heuristic\""})
    EXPECT_NE(json.find(key), std::string::npos) << key;
}

TEST(Box2DCli, RenderWritesPngFrames) {
  const std::string dir = test::make_temp_dir() + "/frames";
  const std::string out = run_in_process(
      cli::cmd_render, {"--env", "lunar_lander", "--policy", "random", "--seed", "2", "--every", "40", "--out", dir});
  const std::string png = test::read_file(dir + "/frame_00000.png");
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_NE(out.find("frames"), std::string::npos);
  EXPECT_THROW(cli::cmd_render({"--env", "lunar_lander", "--out", dir}), InputError);  // frames there, no --force
}

TEST(Box2DCli, CollectRunsTheHeuristic) {
  const std::string path = test::make_temp_dir() + "/h.h5";
  const std::string out = run_in_process(cli::cmd_collect, {"--env", "lunar_lander", "--policy", "heuristic", "--steps",
                                                            "2000", "--set", "env.num_envs=4", "--out", path});
  EXPECT_NE(out.find("landed_rate 1"), std::string::npos) << out;
}

TEST(Box2DCli, BadFlagsGiveOneLineErrors) {
  expect_one_line_error(test::run_cli("eval some_run --policy random --env maze"), "leave out --env");
  expect_one_line_error(test::run_cli("eval some_run --policy random"), "some_run: neither a checkpoint");
  EXPECT_THROW(cli::cmd_eval({"--env", "lunar_lander", "--policy", "expert"}), InputError);
  EXPECT_THROW(cli::cmd_eval({"--env", "bipedal_walker", "--policy", "heuristic"}), InputError);
  EXPECT_THROW(cli::cmd_eval({"--env", "lunar_lander", "--policy", "random", "--greedy"}), InputError);
  EXPECT_THROW(cli::cmd_eval({"--env", "lunar_lander", "--policy", "random", "--set", "env.gravity=-20"}), InputError);
  EXPECT_THROW(cli::cmd_render({"--env", "lunar_lander"}), InputError);
  EXPECT_THROW(cli::cmd_collect({"--env", "maze", "--policy", "heuristic", "--steps", "10", "--out", "/tmp/never.h5"}),
               InputError);
}

}  // namespace
}  // namespace shardlab
