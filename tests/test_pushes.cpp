// Shard pushes (issue 13): where the network after the layer is linear and moves are single
// actions, single-channel pushes sum exactly to the all-channel push and gradient x activation
// equals ablation; the command writes its files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "analysis/maze_policy.h"
#include "analysis/pushes.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

MazePolicy load(const std::string& path) { return MazePolicy::load(path, shardlab_schema(), {"env.placement=uniform"}); }

TEST(Pushes, AddUpExactlyWhereTheRestOfTheNetworkIsLinear) {
  // Compact actions: one action per move, so the gap is a logit difference, linear in
  // embedder.relufc_out (only fc_policy follows it).
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = load(test::untrained_maze_policy(dir, "compact"));
  const auto levels = study_levels(policy, 0, 60);
  const PushStudy s = measure_pushes(policy, "embedder.relufc_out", levels);
  ASSERT_GT(s.mazes, 0);
  ASSERT_EQ(s.channels.size(), 32u);  // agent.hidden = 32
  double largest = 0;
  for (int64_t i = 0; i < s.mazes; ++i) {
    EXPECT_NEAR(s.sum_of_single[i], s.all_channels[i], 1e-4 * (1 + std::abs(s.all_channels[i])));
    for (const auto& c : s.channels) {
      EXPECT_NEAR(c.gradient_x_activation[i], c.ablation[i], 1e-4 * (1 + std::abs(c.ablation[i])));
      largest = std::max(largest, std::abs(c.ablation[i]));
    }
  }
  EXPECT_GT(largest, 1e-3);  // the pushes are not all zero
}

TEST(Pushes, DoNotAddUpExactlyThroughNonlinearLayers) {
  // The same check at a conv layer, where ReLUs follow: the sum differs from the joint push
  // somewhere (so the test above is not passing for a reason that holds everywhere).
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = load(test::untrained_maze_policy(dir, "compact"));
  const PushStudy s = measure_pushes(policy, "embedder.block2.res1.resadd_out", study_levels(policy, 0, 60));
  double largest_gap = 0;
  for (int64_t i = 0; i < s.mazes; ++i)
    largest_gap = std::max(largest_gap, std::abs(s.sum_of_single[i] - s.all_channels[i]));
  EXPECT_GT(largest_gap, 1e-4);
}

TEST(Pushes, CommandWritesTablePictureAndSummary) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  auto r = test::run_cli("analyze pushes " + ckpt + " --seeds 0:60 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cheese_pushing_channels"), std::string::npos);
  EXPECT_NE(r.out.find("\"overlap\""), std::string::npos);
  const std::string csv = read_text_file(dir + "/a/pushes.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 8);  // header + 8 channels of block2
  EXPECT_NE(read_text_file(dir + "/a/pushes.svg").find("Channel pushes"), std::string::npos);
  r = test::run_cli("analyze pushes " + ckpt + " --seeds 0:60 --layer embedder.nope_out --out " + dir + "/b");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("embedder.nope_out"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace shardlab::analysis
