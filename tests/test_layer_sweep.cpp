// The layer sweep (issue 13): a zero coefficient changes nothing, the layers come in network
// order, and the command writes its files and refuses bad flags in one line.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "analysis/layer_sweep.h"
#include "analysis/maze_policy.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

const std::string kLayer = "embedder.block2.res1.resadd_out";

MazePolicy load(const std::string& path) {
  return MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"});
}

TEST(LayerSweep, ZeroCoefficientRowsEqualTheUnpatchedPolicyAndLayersAreInOrder) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = load(test::untrained_maze_policy(dir));
  const auto layers = sweep_layers(policy, false);
  ASSERT_GE(layers.size(), 8u);
  EXPECT_EQ(std::find(layers.begin(), layers.end(), "fc_value_out"), layers.end());
  EXPECT_NE(std::find(layers.begin(), layers.end(), kLayer), layers.end());
  EXPECT_GT(sweep_layers(policy, true).size(), layers.size());
  const auto levels = study_levels(policy, 0, 40);
  const LayerSweep zero = sweep_steering_layers(policy, levels, layers, 0.0, 0);
  ASSERT_EQ(zero.rows.size(), layers.size());
  for (size_t i = 0; i < zero.rows.size(); ++i) {
    const auto& r = zero.rows[i];
    if (i) {
      EXPECT_GT(r.depth, zero.rows[i - 1].depth);
    }
    for (double e : r.effect_per_maze) EXPECT_EQ(e, 0) << r.layer;
    for (double e : r.effect_mean_difference) EXPECT_EQ(e, 0) << r.layer;
    for (double e : r.effect_random) EXPECT_EQ(e, 0) << r.layer;
  }
  // A non-zero coefficient moves the policy at some layer.
  const LayerSweep steered = sweep_steering_layers(policy, levels, layers, -1.0, 0);
  double largest = 0;
  for (const auto& r : steered.rows)
    for (double e : r.effect_per_maze) largest = std::max(largest, std::abs(e));
  EXPECT_GT(largest, 1e-4);
}

TEST(LayerSweep, CommandWritesItsFilesAndRefusesBadFlags) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  auto r = test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:40 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_text_file(dir + "/a/layer_sweep.csv").find(kLayer), std::string::npos);
  EXPECT_NE(read_text_file(dir + "/a/layer_sweep.json").find("strongest_per_maze"), std::string::npos);
  // Bad flags: one line each, nothing overwritten.
  const std::string before = read_text_file(dir + "/a/layer_sweep.csv");
  r = test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:40 --out " + dir + "/a");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
  EXPECT_EQ(read_text_file(dir + "/a/layer_sweep.csv"), before);
  r = test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:40 --layers embedder.nope_out --out " + dir + "/c");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("embedder.nope_out"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shardlab::analysis
