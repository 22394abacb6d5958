// Shard pushes (issues 13 and 30): the per-channel tests recover planted push channels and keep
// noise channels out under Holm's correction, which uncorrected tests would not; each ablation
// changes exactly the one channel's map, as it says; where the network after the layer is linear
// and moves are single actions, single-channel pushes sum exactly to the all-channel push and
// gradient x activation equals the ablation; the command reports the untrained-network null
// beside the trained network and refuses bad flags in one line.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agents/run_dir.h"
#include "analysis/maze_policy.h"
#include "analysis/pushes.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/significance.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

double normal(Rng& rng) {  // Box-Muller
  const double u = 1.0 - rng.uniform01(), v = rng.uniform01();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * std::acos(-1.0) * v);
}

// 16 channels x 40 mazes of unit-variance noise; channels 2 and 7 push for the cheese (mean +1),
// channel 11 for the corner (mean -1).
std::vector<std::vector<double>> planted_pushes(uint64_t seed) {
  std::vector<std::vector<double>> pushes(16);
  Rng rng(seed);
  for (size_t c = 0; c < pushes.size(); ++c) {
    const double shift = c == 2 || c == 7 ? 1.0 : c == 11 ? -1.0 : 0.0;
    for (int m = 0; m < 40; ++m) pushes[c].push_back(shift + normal(rng));
  }
  return pushes;
}

TEST(PushTests, PlantedChannelsSurviveHolmAndNoiseChannelsDoNot) {
  int64_t runs_with_a_false_survivor = 0, uncorrected_false = 0, corrected_false = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto tests = test_pushes(planted_pushes(seed), 0.05);
    ASSERT_EQ(tests.size(), 16u);
    EXPECT_EQ(channels_with(tests, Verdict::kCheese).size(), 2u) << seed;
    EXPECT_EQ(tests[2].verdict, Verdict::kCheese) << seed;
    EXPECT_EQ(tests[7].verdict, Verdict::kCheese) << seed;
    EXPECT_EQ(tests[11].verdict, Verdict::kTopRight) << seed;
    EXPECT_LT(tests[11].ci95_hi, 0) << seed;
    int64_t false_here = 0;
    for (size_t c = 0; c < tests.size(); ++c) {
      if (c == 2 || c == 7 || c == 11) continue;
      EXPECT_GE(tests[c].p_holm, tests[c].p);
      uncorrected_false += tests[c].p < 0.05;
      false_here += tests[c].verdict != Verdict::kNone;
    }
    corrected_false += false_here;
    runs_with_a_false_survivor += false_here > 0;
  }
  // Holm holds the family-wise error at 5%: over 20 families, about one with any noise channel
  // surviving; uncorrected tests pass about 5% of the 260 noise channels.
  EXPECT_LE(runs_with_a_false_survivor, 3);
  EXPECT_GT(uncorrected_false, corrected_false + 5);
}

TEST(PushTests, OneFamilyAcrossAblationsAndTheShuffledChannelNull) {
  PushStudy s;
  s.mazes = 40;
  for (uint64_t a = 0; a < 2; ++a) {
    AblationPushes p;
    p.by_channel = planted_pushes(100 + a);
    s.pushes.push_back(p);
  }
  const auto tests = test_study(s, 0.05);
  ASSERT_EQ(tests.size(), 2u);
  // Holm over all 32 tests, not 16 per ablation.
  std::vector<double> p;
  for (const auto& by_channel : tests)
    for (const auto& t : by_channel) p.push_back(t.p);
  const auto adjusted = holm_adjusted(p);
  for (size_t c = 0; c < 16; ++c) {
    EXPECT_DOUBLE_EQ(tests[0][c].p_holm, adjusted[c]);
    EXPECT_DOUBLE_EQ(tests[1][c].p_holm, adjusted[16 + c]);
  }
  EXPECT_EQ(surviving(tests[0]), 3);
  // Shuffling the channels within each maze spreads the three planted pushes over all 16: few
  // channels survive.
  const auto shuffled = shuffled_channel_null(s, 0.05, 50, 1);
  ASSERT_EQ(shuffled.size(), 2u);
  ASSERT_EQ(shuffled[0].size(), 50u);
  double total = 0;
  for (int64_t n : shuffled[0]) total += static_cast<double>(n);
  EXPECT_LT(total / 50, 1.0);
  EXPECT_EQ(shuffled, shuffled_channel_null(s, 0.05, 50, 1));  // seeded
}

TEST(PushAblations, EachChangesExactlyTheOneChannelsMap) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const at::Tensor acts = policy.activations(at_start(study_levels(policy, 0, 6)), "embedder.block2.res1.resadd_out");
  const int64_t mazes = acts.size(0), channels = acts.size(1);
  const AblationMaps maps = ablation_maps(acts, 4);
  // Resampling draws from another maze, each maze giving its maps exactly once; seeded.
  std::vector<int64_t> given(static_cast<size_t>(mazes), 0);
  for (int64_t i = 0; i < mazes; ++i) {
    EXPECT_NE(maps.donor[i], i);
    ++given[static_cast<size_t>(maps.donor[i])];
  }
  EXPECT_EQ(given, std::vector<int64_t>(static_cast<size_t>(mazes), 1));
  EXPECT_EQ(maps.donor, resample_donors(mazes, 4));
  EXPECT_TRUE(torch::allclose(maps.mean, acts.mean(0, true)));
  for (Ablation a : parse_ablations("all")) {
    for (int64_t c = 0; c < channels; ++c) {
      const at::Tensor y = ablate(acts, a, c, maps);
      const at::Tensor expected = a == Ablation::kZero   ? torch::zeros_like(acts.select(1, c))
                                  : a == Ablation::kMean ? maps.mean.select(1, c).expand_as(acts.select(1, c))
                                                         : acts.select(1, c).index_select(0, torch::tensor(maps.donor));
      EXPECT_TRUE(torch::equal(y.select(1, c), expected)) << ablation_name(a) << " channel " << c;
      for (int64_t other = 0; other < channels; ++other)
        if (other != c) {
          EXPECT_TRUE(torch::equal(y.select(1, other), acts.select(1, other)));
        }
    }
  }
  EXPECT_THROW(resample_donors(1, 0), InputError);
}

TEST(Pushes, AddUpExactlyWhereTheRestOfTheNetworkIsLinear) {
  // Compact actions: one action per move, so the gap is a logit difference, linear in
  // embedder.relufc_out (only fc_policy follows it).
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir, "compact"));
  const PushStudy s =
      measure_pushes(policy, "embedder.relufc_out", study_levels(policy, 0, 60), parse_ablations("all"), 0);
  ASSERT_GT(s.mazes, 1);
  ASSERT_EQ(s.pushes.size(), 3u);
  for (const AblationPushes& p : s.pushes) {
    ASSERT_EQ(p.by_channel.size(), 32u);  // agent.hidden = 32
    double largest = 0;
    for (int64_t i = 0; i < s.mazes; ++i) {
      EXPECT_NEAR(p.sum_of_single[i], p.all_channels[i], 1e-4 * (1 + std::abs(p.all_channels[i])));
      for (size_t c = 0; c < p.by_channel.size(); ++c) {
        EXPECT_NEAR(p.gradient_x_activation[c][i], p.by_channel[c][i], 1e-4 * (1 + std::abs(p.by_channel[c][i])));
        largest = std::max(largest, std::abs(p.by_channel[c][i]));
      }
    }
    EXPECT_GT(largest, 1e-3) << ablation_name(p.ablation);  // the pushes are not all zero
  }
}

TEST(Pushes, DoNotAddUpExactlyThroughNonlinearLayers) {
  // The same check at a conv layer, where ReLUs follow: the sum differs from the joint push
  // somewhere (so the test above is not passing for a reason that holds everywhere).
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir, "compact"));
  const PushStudy s =
      measure_pushes(policy, "embedder.block2.res1.resadd_out", study_levels(policy, 0, 60), {Ablation::kMean}, 0);
  double largest_gap = 0;
  for (int64_t i = 0; i < s.mazes; ++i)
    largest_gap = std::max(largest_gap, std::abs(s.pushes[0].sum_of_single[i] - s.pushes[0].all_channels[i]));
  EXPECT_GT(largest_gap, 1e-4);
}

TEST(Pushes, CommandReportsEveryAblationWithTheUntrainedNullBeside) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const auto r = test::run_cli("analyze pushes " + ckpt + " --seeds 0:60 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["untrained_null"]["source"], "fresh_init_run_seed");
  EXPECT_EQ(j["untrained_null"]["init_seed"], 0);
  EXPECT_EQ(j["design"]["holm_family_size"], 3 * 8);
  for (const char* a : {"zero", "mean", "resample"}) {
    ASSERT_TRUE(j["channels_surviving_holm"].contains(a)) << a;
    for (const char* k : {"trained", "untrained_null", "shuffled_channel_null_mean"})
      EXPECT_TRUE(j["channels_surviving_holm"][a].contains(k)) << a << " " << k;
    EXPECT_TRUE(j["ablations"][a]["cheese_tracking"].contains("overlap")) << a;
    EXPECT_EQ(j["ablations"][a]["additivity"]["mean_push_all_channels_ci95"].size(), 2u) << a;
  }
  const auto csv = test::read_csv(dir + "/a/pushes.csv");
  ASSERT_EQ(csv.size(), 1u + 2 * 3 * 8);  // header + (trained, untrained) x 3 ablations x 8 channels of block2
  EXPECT_EQ(csv[1][0], "trained");
  EXPECT_EQ(csv.back()[0], "untrained");
  EXPECT_EQ(csv.back()[1], "resample");
  const std::string svg = read_text_file(dir + "/a/pushes.svg");
  EXPECT_NE(svg.find("Channel pushes"), std::string::npos);
  EXPECT_NE(svg.find("resample ablation"), std::string::npos);
}

TEST(Pushes, UntrainedNullIsTheRunsStepZeroMilestoneWhenKept) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  const RunDir run = RunDir::existing(dir + "/run");
  std::filesystem::create_directories(dir + "/run/checkpoints");
  std::filesystem::create_directories(dir + "/run/milestones");
  std::filesystem::copy_file(policy, run.checkpoint_path(10));
  std::filesystem::copy_file(policy, run.milestone_path(0));
  const auto r = test::run_cli("analyze pushes " + dir + "/run --seeds 0:40 --ablation mean --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["untrained_null"]["source"], "milestone_step_0");
  EXPECT_EQ(j["untrained_null"]["checkpoint"], run.milestone_path(0));
  EXPECT_TRUE(j["untrained_null"]["init_seed"].is_null());
  EXPECT_EQ(j["design"]["holm_family_size"], 8);
  EXPECT_FALSE(j["channels_surviving_holm"].contains("zero"));
  // The milestone here is the trained network itself: the null's numbers are the trained ones.
  EXPECT_EQ(j["channels_surviving_holm"]["mean"]["trained"], j["channels_surviving_holm"]["mean"]["untrained_null"]);
  EXPECT_EQ(j["mean_gap_log_p_cheese_minus_log_p_top_right"],
            j["untrained_null"]["mean_gap_log_p_cheese_minus_log_p_top_right"]);
}

TEST(Pushes, BadFlagsAreOneLineErrors) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const std::string run = "analyze pushes " + ckpt + " --out " + dir + "/a ";
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:40 --ablation shuffle"), "--ablation shuffle");
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:40 --alpha 0"), "--alpha");
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:40 --alpha 1.5"), "--alpha");
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:40 --seed=-1"), "--seed");
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:40 --layer embedder.nope_out"), "embedder.nope_out");
  test::expect_one_line_error(test::run_cli(run + "--seeds 0:1"), "at least 2", true);
}

}  // namespace
}  // namespace shardlab::analysis
