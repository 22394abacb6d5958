// The conformance test every registered environment must pass (OpenSpiel's RandomSimTest idea):
// shapes and bounds, determinism by seed, episode accounting, drawing, auto-reset in the vector env.
#include <gtest/gtest.h>

#include <cmath>

#include "agents/random_policy.h"
#include "envs/registry.h"
#include "envs/vector_env.h"
#include "experiments/schema.h"

namespace shardlab {
namespace {

class EnvConformance : public ::testing::TestWithParam<std::string> {
 protected:
  Spec spec(std::vector<std::string> extra = {}) const {
    extra.insert(extra.begin(), "env.name=" + GetParam());
    return Spec::load(shardlab_schema(), "", extra);
  }
};

// One step with a random action of the environment's kind.
StepResult random_step(Env& env, RandomPolicy& policy, std::vector<float>& continuous) {
  Action a;
  if (env.action_spec().discrete) {
    policy.act(&a.index, 1);
  } else {
    policy.act(continuous.data(), 1);
    a.values = continuous.data();
  }
  return env.step(a);
}

TEST_P(EnvConformance, ObservationsHaveDeclaredShapeAndBounds) {
  auto env = make_env(spec(), 0);
  const ObservationSpec os = env->observation_spec();
  ASSERT_FALSE(os.shape.empty());
  ASSERT_GT(os.size(), 0);
  RandomPolicy policy(env->action_spec(), 1);
  std::vector<float> continuous(std::max<int64_t>(1, env->action_spec().dim));
  std::vector<float> obs(os.size());
  for (int t = 0; t < 2000; ++t) {
    env->write_observation(obs.data());
    for (float v : obs) {
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_GE(v, os.low);
      ASSERT_LE(v, os.high);
    }
    if (random_step(*env, policy, continuous).done()) env->reset();
  }
  EXPECT_FALSE(env->to_string().empty());
}

TEST_P(EnvConformance, SameSeedSameTrajectoryDifferentSeedDifferentOne) {
  auto run = [&](uint64_t env_index) {
    auto env = make_env(spec(), static_cast<int64_t>(env_index));
    RandomPolicy policy(env->action_spec(), 7);
    std::vector<float> continuous(std::max<int64_t>(1, env->action_spec().dim));
    std::vector<float> trace, obs(env->observation_spec().size());
    for (int t = 0; t < 1500; ++t) {
      const StepResult r = random_step(*env, policy, continuous);
      env->write_observation(obs.data());
      trace.insert(trace.end(), obs.begin(), obs.end());
      trace.push_back(r.reward);
      trace.push_back(r.terminated);
      trace.push_back(r.truncated);
      if (r.done()) env->reset();
    }
    return trace;
  };
  EXPECT_EQ(run(0), run(0));
  EXPECT_NE(run(0), run(1));
}

TEST_P(EnvConformance, EpisodeStatsAddUp) {
  auto env = make_env(spec(), 0);
  RandomPolicy policy(env->action_spec(), 3);
  std::vector<float> continuous(std::max<int64_t>(1, env->action_spec().dim));
  int episodes = 0;
  double total = 0.0;
  int64_t length = 0;
  for (int t = 0; t < 20000 && episodes < 5; ++t) {
    const StepResult r = random_step(*env, policy, continuous);
    EXPECT_FALSE(r.terminated && r.truncated);
    total += r.reward;
    ++length;
    if (r.done()) {
      const EpisodeStats s = env->episode_stats();
      EXPECT_NEAR(s.episode_return, total, 1e-6);
      EXPECT_EQ(s.length, length);
      EXPECT_EQ(s.terminated, r.terminated);
      total = 0.0;
      length = 0;
      ++episodes;
      env->reset();
    }
  }
  EXPECT_EQ(episodes, 5);
}

TEST_P(EnvConformance, CloneContinuesIdentically) {
  auto env = make_env(spec(), 0);
  RandomPolicy warmup(env->action_spec(), 4);
  std::vector<float> continuous(std::max<int64_t>(1, env->action_spec().dim));
  for (int t = 0; t < 37; ++t)
    if (random_step(*env, warmup, continuous).done()) env->reset();
  auto copy = env->clone();
  RandomPolicy p1(env->action_spec(), 5), p2(env->action_spec(), 5);
  std::vector<float> o1(env->observation_spec().size()), o2(o1.size());
  for (int t = 0; t < 300; ++t) {
    const StepResult a = random_step(*env, p1, continuous);
    const StepResult b = random_step(*copy, p2, continuous);
    ASSERT_EQ(a.reward, b.reward);
    ASSERT_EQ(a.done(), b.done());
    env->write_observation(o1.data());
    copy->write_observation(o2.data());
    ASSERT_EQ(o1, o2);
    if (a.done()) {
      env->reset();
      copy->reset();
    }
  }
}

// Every environment draws its state: a readable RGB picture in [0, 1] that changes as it moves.
TEST_P(EnvConformance, DrawsItsStateAsAReadablePicture) {
  auto env = make_env(spec(), 0);
  RandomPolicy policy(env->action_spec(), 6);
  std::vector<float> continuous(std::max<int64_t>(1, env->action_spec().dim));
  const Frame first = env->draw();
  ASSERT_GE(first.width, 300);
  ASSERT_GE(first.height, 300);
  ASSERT_EQ(first.chw.size(), 3u * static_cast<size_t>(first.width) * first.height);
  for (float v : first.chw) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  bool changed = false;
  for (int t = 0; t < 20 && !changed; ++t) {
    if (random_step(*env, policy, continuous).done()) env->reset();
    const Frame next = env->draw();
    ASSERT_EQ(next.width, first.width);
    changed = next.chw != first.chw;
  }
  EXPECT_TRUE(changed) << GetParam() << ": 20 steps and the picture never changed";
}

TEST_P(EnvConformance, VectorEnvAutoResetsAndKeepsFinalObservations) {
  const Spec s = spec({"env.num_envs=4", "run.seed=11"});
  VectorEnv venv = make_vector_env(s);
  // Shadow environments built the same way, stepped one by one.
  std::vector<std::unique_ptr<Env>> shadow;
  for (int i = 0; i < 4; ++i) shadow.push_back(make_env(s, i));
  const int64_t n = venv.observation_spec().size();
  RandomPolicy policy(venv.action_spec(), 2);
  std::vector<int64_t> discrete(4);
  std::vector<float> continuous(4 * std::max<int64_t>(1, venv.action_spec().dim));
  std::vector<float> obs(n);
  int finished = 0;
  for (int t = 0; t < 3000; ++t) {
    Action actions[4];
    if (venv.action_spec().discrete) {
      policy.act(discrete.data(), 4);
      venv.step(discrete.data());
      for (int i = 0; i < 4; ++i) actions[i].index = discrete[i];
    } else {
      policy.act(continuous.data(), 4);
      venv.step(continuous.data());
      for (int i = 0; i < 4; ++i) actions[i].values = &continuous[i * venv.action_spec().dim];
    }
    for (int i = 0; i < 4; ++i) {
      const StepResult r = shadow[i]->step(actions[i]);
      ASSERT_EQ(r.reward, venv.rewards()[i]);
      ASSERT_EQ(r.terminated, venv.terminated()[i] != 0);
      ASSERT_EQ(r.truncated, venv.truncated()[i] != 0);
      if (r.done()) {
        shadow[i]->write_observation(obs.data());
        ASSERT_TRUE(std::equal(obs.begin(), obs.end(), venv.final_observations() + i * n));
        shadow[i]->reset();
        ++finished;
      }
      shadow[i]->write_observation(obs.data());
      ASSERT_TRUE(std::equal(obs.begin(), obs.end(), venv.observations() + i * n)) << "env " << i << " step " << t;
    }
    for (const auto& f : venv.finished()) EXPECT_TRUE(venv.done(f.env_index));
  }
  EXPECT_GT(finished, 0);
}

INSTANTIATE_TEST_SUITE_P(Registered, EnvConformance, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (const auto& r : registered_envs()) names.push_back(r.name);
                           return names;
                         }()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shardlab
