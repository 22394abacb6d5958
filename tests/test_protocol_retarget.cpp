// The reference's retargeting (issue 13): the four conditions' path probabilities on a policy whose
// probabilities are known, the patch, the per-position cache and the distance from the top-right
// path; the reference's cheese rule on such a policy; chunked studies equal to one pass.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/resample.h"
#include "analysis/retarget.h"
#include "analysis/steering.h"
#include "core/spec.h"
#include "envs/maze/maze_paths.h"
#include "experiments/schema.h"
#include "tests/protocol_mazes.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

using test::hand_maze;
using test::hand_maze_rows;
using test::in_easy_world;

// Retargeting conditions with a value for each: channel 1 alone at 50, the effective channels 1 and
// 2 at 20, the four cheese channels at 10.
RetargetConditions valued_conditions() {
  RetargetConditions k;
  k.channel = 1;
  k.channel_value = 50;
  k.effective = {1, 2};
  k.effective_value = 20;
  k.cheese_channels = {0, 1, 2, 3};
  k.all_value = 10;
  return k;
}

// A compact-action policy whose move probabilities are the same everywhere: every weight of the
// policy head zero, its bias log(weights), so by default P(left, down, up, right, no-op) =
// (0.05, 0.1, 0.15, 0.2, 0.5) whatever the input or the patch.
std::string known_policy(const std::string& dir, const std::vector<double>& weights = {1.0, 2.0, 3.0, 4.0, 10.0}) {
  const Spec spec = Spec::load(
      shardlab_schema(), "",
      {"agent.channels=4,8,8", "agent.hidden=32", "env.distribution=easy", "env.actions=compact", "run.threads=1"});
  ObservationSpec obs;
  obs.shape = {3, 15, 15};
  ActionSpec act;
  act.num_actions = 5;
  at::Generator init = at::detail::createCPUGenerator(3);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : net->named_parameters()) {
      const std::string& name = item.key();
      at::Tensor& param = item.value();
      if (name.find("fc_policy") != std::string::npos) {
        if (name.find("bias") != std::string::npos)
          param.copy_(torch::log(torch::tensor(weights, param.options())));
        else
          param.zero_();
      }
    }
  }
  const std::string path = dir + "/known" + std::to_string(static_cast<int64_t>(weights[3] * 1000)) + ".pt";
  save_policy(path, *net, spec);
  return path;
}

// The geometric mean of P(move) along the path from the start to `target`, for a policy whose
// move probabilities are `probs` (left, down, up, right) everywhere.
double known_path_probability(const MazeLayout& l, Cell target, const double (&probs)[4]) {
  const auto path = maze::shortest_path(l, l.start, target);
  double log_sum = 0;
  for (size_t i = 0; i + 1 < path.size(); ++i) log_sum += std::log(probs[move_between(path[i], path[i + 1])]);
  return std::exp(log_sum / static_cast<double>(path.size() - 1));
}

TEST(ProtocolRetarget, PathProbabilityOfAPolicyWithKnownProbabilities) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(known_policy(dir));
  const std::string layer = "embedder.block2.res1.resadd_out";
  const auto levels = study_levels(p, 0, 3);
  ASSERT_FALSE(levels.empty());
  RetargetConditions k;
  k.channel = 1;
  k.effective = {1, 2};
  k.cheese_channels = {0, 1, 2, 3};
  const auto rows = run_reference_retargeting(p, layer, k, levels, 0);
  const double probs[4] = {0.05, 0.1, 0.15, 0.2};  // left, down, up, right
  size_t checked = 0, shared = 0;
  std::map<std::tuple<uint32_t, int64_t, int64_t>, Cell> first_at;  // (maze, position) -> its first target
  for (const auto& r : rows) {
    const MazeLayout& l =
        *std::find_if(levels.begin(), levels.end(), [&](const MazeLayout& m) { return m.level_seed == r.seed; });
    ASSERT_EQ(static_cast<int>(maze::shortest_path(l, l.start, r.target).size()) - 1, r.path_length);
    ASSERT_EQ(std::make_pair(r.filter_row, r.filter_col), p.activation_position(layer, r.target));
    EXPECT_EQ(r.topright_path_divergence, topright_path_divergence(l, r.target));
    // The cached conditions measure the path to the first target at the same position.
    const Cell first = first_at.emplace(std::make_tuple(r.seed, r.filter_row, r.filter_col), r.target).first->second;
    EXPECT_EQ(r.measured, first);
    shared += r.measured != r.target;
    const double own = known_path_probability(l, r.target, probs), measured = known_path_probability(l, first, probs);
    EXPECT_NEAR(r.npp_normal, own, 1e-5);  // never cached
    EXPECT_NEAR(r.npp_channel, measured, 1e-5);
    EXPECT_NEAR(r.npp_effective, measured, 1e-5);
    EXPECT_NEAR(r.npp_all, measured, 1e-5);
    if (r.filter_row == 0 && r.filter_col == 0)
      EXPECT_TRUE(std::isnan(r.npp_cheese));  // cheese_at_square returns None there
    else
      EXPECT_NEAR(r.npp_cheese, measured, 1e-5);
    ++checked;
  }
  EXPECT_GT(checked, 10u);
  EXPECT_GT(shared, 0u);
  // Every free cell but the start is a target (the cheese removed, its cell too), bottom row first.
  size_t targets = 0;
  for (const auto& l : levels) targets += free_cells(l).size() - 1;
  EXPECT_EQ(rows.size(), targets);
}

// get_channel_pixel_patch by hand: a batch of two inputs whose channel-1 maps differ. After the
// patch both inputs' channel 1 is input 0's map with the pixel set; channel 0 is left alone.
TEST(ProtocolRetarget, PatchGivesEveryInputTheFirstInputsMapPlusThePixel) {
  const at::Tensor x = torch::tensor({1., 2., 3., 4., 10., 20., 30., 40., 5., 6., 7., 8., 50., 60., 70., 80.})
                           .reshape({2, 2, 2, 2});  // (batch, channel, h, w): element 1 channel 1 = 50..80
  const at::Tensor y = first_element_map_plus_pixel({1}, 0, 1, 9.0)(x);
  const at::Tensor expected_map = torch::tensor({10., 9., 30., 40.}).reshape({2, 2});
  EXPECT_TRUE(torch::equal(y[0][1], expected_map));
  EXPECT_TRUE(torch::equal(y[1][1], expected_map));  // not 50, 9, 70, 80
  EXPECT_TRUE(torch::equal(y.select(1, 0), x.select(1, 0)));
  EXPECT_TRUE(torch::equal(x[1][1], torch::tensor({50., 60., 70., 80.}).reshape({2, 2})));  // input untouched
  // Several channels: each from element 0, the pixel in each.
  const at::Tensor z = first_element_map_plus_pixel({0, 1}, 1, 0, -1.0)(x);
  EXPECT_TRUE(torch::equal(z[1][0], torch::tensor({1., 2., -1., 4.}).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(z[1][1], torch::tensor({10., 20., -1., 40.}).reshape({2, 2})));

  // In a network, chunked: every chunk starts with the first input, so the numbers do not depend
  // on the chunk size (they would if a later chunk's element 0 were another input).
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const std::string layer = "embedder.block2.res1.resadd_out";
  const MazeLayout l = without_cheese(study_levels(p, 0, 1).front());
  std::vector<MazeInput> inputs = {{l, l.start}};  // the start first, as in vector_field's batch
  for (const Cell c : free_cells(l))
    if (c != l.start) inputs.push_back({l, c});
  ASSERT_GT(inputs.size(), 6u);
  const ActivationPatch patch = first_element_map_plus_pixel({1, 2}, 1, 2, 30.0);
  const at::Tensor one = retarget_network(p, layer, int64_t{1} << 40)(inputs, &patch);
  const at::Tensor chunked = retarget_network(p, layer, 3)(inputs, &patch);
  ASSERT_EQ(one.sizes(), chunked.sizes());
  EXPECT_TRUE(torch::allclose(one, chunked, 1e-5, 1e-6));
  ActivationTaps taps;
  taps.add_patch(layer, patch);
  taps.record(layer);
  p.forward(std::vector<MazeInput>(inputs.begin(), inputs.begin() + 4), &taps);
  const at::Tensor after = taps.recorded().at(layer);
  for (int64_t b = 1; b < 4; ++b) EXPECT_TRUE(torch::equal(after[b][2], after[0][2])) << b;
  EXPECT_EQ(after[3][1][1][2].item<float>(), 30.0f);
}

// retarget_heatmap's cache: targets at one activation position share the first one's value, and
// the network runs once for them. Counted with a network that counts its calls.
TEST(ProtocolRetarget, CacheMeasuresEachActivationPositionOnce) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const std::string layer = "embedder.block2.res1.resadd_out";
  const MazeLayout maze = in_easy_world(hand_maze_rows());
  // On the bottom row (y = 4), right of the start (4, 4): cells (5, 4) and (6, 4) both lie in
  // block2's position (2, 1) of 4x4 (columns floor((x + 0.5) * 4 / 15) = 1, row floor(10.5 * 4 / 15) = 2);
  // (4, 8), up the left column, in (1, 1).
  const Cell a{5, 4}, b{6, 4}, c{4, 8};
  ASSERT_EQ(p.activation_position(layer, a), std::make_pair(int64_t{2}, int64_t{1}));
  ASSERT_EQ(p.activation_position(layer, b), p.activation_position(layer, a));
  ASSERT_EQ(p.activation_position(layer, c), std::make_pair(int64_t{1}, int64_t{1}));
  const RetargetConditions k = valued_conditions();
  const RetargetNetwork real = retarget_network(p, layer);
  int calls = 0, edited_calls = 0, edited_inputs = 0;
  const RetargetNetwork counting = [&](const std::vector<MazeInput>& inputs, const ActivationPatch* patch) {
    ++calls;
    if (patch) ++edited_calls, edited_inputs += static_cast<int>(inputs.size());
    return real(inputs, patch);
  };
  const auto rows = reference_retarget_maze(p, layer, k, maze, {a, b}, counting);
  ASSERT_EQ(rows.size(), 2u);
  // One pass for "normal" over both paths, then one per condition for the position: three edits
  // (the start and a's one-move path: two inputs each) and the cheese on a.
  EXPECT_EQ(calls, 1 + 3 + 1);
  EXPECT_EQ(edited_calls, 3);
  EXPECT_EQ(edited_inputs, 3 * 2);
  EXPECT_EQ(rows[1].measured, a);
  EXPECT_EQ(rows[1].npp_channel, rows[0].npp_channel);
  EXPECT_EQ(rows[1].npp_effective, rows[0].npp_effective);
  EXPECT_EQ(rows[1].npp_all, rows[0].npp_all);
  EXPECT_EQ(rows[1].npp_cheese, rows[0].npp_cheese);
  EXPECT_NE(rows[1].npp_normal, rows[0].npp_normal);  // each target's own path
  // b alone measures its own path: the shared value is a's, not b's.
  const auto alone = reference_retarget_maze(p, layer, k, maze, {b}, real);
  EXPECT_EQ(alone[0].measured, b);
  EXPECT_NE(alone[0].npp_channel, rows[1].npp_channel);
  EXPECT_NEAR(alone[0].npp_normal, rows[1].npp_normal, 1e-6);
  // A target at another position costs one more pass per condition.
  calls = edited_calls = edited_inputs = 0;
  reference_retarget_maze(p, layer, k, maze, {a, b, c}, counting);
  EXPECT_EQ(calls, 1 + 2 * 4);
  EXPECT_EQ(edited_calls, 2 * 3);
}

// retarget_quantitative.ipynb's distance (maze.distance_to_tr_path): the cells of the path to the
// target that are off the path to the top-right, on the hand maze. The top-right path runs up the
// left column and along the top row.
TEST(ProtocolRetarget, DistanceFromThePathToTheTopRightOnAHandMaze) {
  const MazeLayout m = hand_maze();
  EXPECT_EQ(topright_path_divergence(m, {0, 0}), 0);  // the start
  EXPECT_EQ(topright_path_divergence(m, {0, 4}), 0);  // on the path (Euclidean from the corner: 6.3)
  EXPECT_EQ(topright_path_divergence(m, {6, 6}), 0);  // the corner
  EXPECT_EQ(topright_path_divergence(m, {1, 2}), 1);  // the cheese's cell, one step off at (0, 2)
  // Along the bottom row to its dead end: five cells off (Euclidean from the corner: 6.1).
  EXPECT_EQ(topright_path_divergence(m, {5, 0}), 5);
  // Down the right column from the corner: (6, 5) .. (6, 1).
  EXPECT_EQ(topright_path_divergence(m, {6, 1}), 5);
  // Into the middle room: (1, 2), (2, 2), (2, 3), (2, 4), (3, 4), (4, 4), (4, 3), (4, 2).
  EXPECT_EQ(topright_path_divergence(m, {4, 2}), 8);
}

// Always right (every other move has probability ~1e-12), along a corridor: where the episode is
// cut decides the reference's "got the cheese" (the mouse next to the cheese in the last state).
TEST(ProtocolBehaviour, ReferenceCheeseRuleAndStepCutOnAHandBuiltCorridor) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(known_policy(dir, {1e-12, 1e-12, 1e-12, 1.0, 1e-12}));
  // The 7x7 maze centred in the 15x15 world (margin 4): the mouse starts at (4, 4) and walks right
  // along the bottom row to (9, 4), where a wall stops it.
  const auto world = [](std::vector<std::string> maze) {
    std::vector<std::string> rows(4, std::string(15, '#'));
    for (const auto& r : maze) rows.push_back("####" + r + "####");
    while (rows.size() < 15) rows.push_back(std::string(15, '#'));
    return maze::layout_from_rows(rows);
  };
  // Cheese above the corridor at (8, 5): next to the mouse only after exactly 4 steps.
  const MazeLayout above = world({
      ".......",
      ".#####.",
      ".#...#.",
      ".#.#.#.",
      ".#.#.#.",
      ".#.#C#.",
      "M.....#",
  });
  ASSERT_EQ(above.margin(), 4);
  ASSERT_EQ(above.start, (Cell{4, 4}));
  ASSERT_EQ(above.cheese, (Cell{8, 5}));
  // Cheese on the corridor at (7, 4): reached after 3 steps, next to it after 2.
  const MazeLayout on = world({
      ".......",
      ".#####.",
      ".#...#.",
      ".#.#.#.",
      ".#.#.#.",
      ".#.#.#.",
      "M..C..#",
  });
  ASSERT_EQ(on.cheese, (Cell{7, 4}));
  const auto got = [&](const MazeLayout& m, int steps, CheeseJudgement j) -> bool {  // not a vector<bool> proxy
    return gets_cheese(p, {m}, 0, steps, j).front();
  };
  const auto reference = CheeseJudgement::kReferenceLastStateNextToCheese, ours = CheeseJudgement::kReached;
  EXPECT_FALSE(got(above, 3, reference));  // cut at (7, 4): two cells away
  EXPECT_TRUE(got(above, 4, reference));   // cut at (8, 4): next to the cheese
  EXPECT_FALSE(got(above, 4, ours));       // ... but never on it
  EXPECT_FALSE(got(above, 6, reference));  // walked past: the last state at (9, 4) is two away
  EXPECT_FALSE(got(on, 1, reference));     // (5, 4): two away
  EXPECT_TRUE(got(on, 2, reference));      // cut next to it
  EXPECT_FALSE(got(on, 2, ours));
  EXPECT_TRUE(got(on, 3, reference));  // reached: the episode ends on the cheese
  EXPECT_TRUE(got(on, 3, ours));
  EXPECT_TRUE(got(on, 50, reference));  // reached, then nothing more happens
}

TEST(ProtocolRetarget, ConditionsChangeAnUntrainedNetworksPathProbability) {
  // With a real (random) network, setting channels at the target moves the policy, and the
  // conditions differ from each other.
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const RetargetConditions k = valued_conditions();
  const auto rows = run_reference_retargeting(p, "embedder.block2.res1.resadd_out", k, study_levels(p, 0, 2), 6);
  ASSERT_FALSE(rows.empty());
  double moved = 0;
  for (const auto& r : rows) moved += std::abs(r.npp_channel - r.npp_normal) + std::abs(r.npp_all - r.npp_effective);
  EXPECT_GT(moved, 1e-4);
}

// Big networks run their inputs in chunks (MazePolicy::in_chunks); the chunks must give the
// numbers of one pass, per-input patches included (a patch that read the wrong slice of its
// per-input positions or values would change them by far more than the bound). Not bit for bit:
// the CPU kernels (convolution, matrix product) round differently for different batch sizes, so
// even the unpatched policy differs in the last float bit (1e-7 relative); the bound is 1e-5.
TEST(ProtocolChunks, ChunkedStudiesEqualOnePass) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const std::string layer = "embedder.block2.res1.resadd_out";
  constexpr int64_t kOnePass = int64_t{1} << 40, kSmall = 7;  // 7 divides no maze's input count evenly
  const auto same = [](double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) <= 1e-5 * std::abs(a) + 1e-9;  // NaN: no value in both
  };

  const RetargetConditions k = valued_conditions();
  const auto levels = study_levels(p, 0, 3);
  const auto one = run_reference_retargeting(p, layer, k, levels, 0, kOnePass);
  const auto chunked = run_reference_retargeting(p, layer, k, levels, 0, kSmall);
  ASSERT_EQ(one.size(), chunked.size());
  int64_t inputs = 0;
  for (size_t i = 0; i < one.size(); ++i) {
    inputs += one[i].path_length;
    EXPECT_EQ(one[i].target, chunked[i].target);
    EXPECT_PRED2(same, one[i].npp_normal, chunked[i].npp_normal) << i;
    EXPECT_PRED2(same, one[i].npp_channel, chunked[i].npp_channel) << i;
    EXPECT_PRED2(same, one[i].npp_effective, chunked[i].npp_effective) << i;
    EXPECT_PRED2(same, one[i].npp_all, chunked[i].npp_all) << i;
    EXPECT_PRED2(same, one[i].npp_cheese, chunked[i].npp_cheese) << i;
  }
  ASSERT_GT(inputs, 10 * kSmall);  // many chunks per maze

  const auto resample_levels = study_levels(p, 0, 12);
  for (const Protocol protocol : {Protocol::kReference, Protocol::kOurs}) {
    int64_t used_one = 0, used_chunked = 0;
    const auto a = intervene_on_channels(p, layer, {1, 2}, resample_levels, 2, 5, protocol, &used_one, kOnePass);
    const auto b = intervene_on_channels(p, layer, {1, 2}, resample_levels, 2, 5, protocol, &used_chunked, kSmall);
    EXPECT_EQ(used_one, used_chunked);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_PRED2(same, a[i].tv_channels, b[i].tv_channels) << a[i].intervention;
      EXPECT_PRED2(same, a[i].tv_random, b[i].tv_random) << a[i].intervention;
      EXPECT_PRED2(same, a[i].percent_channels, b[i].percent_channels) << a[i].intervention;
      EXPECT_PRED2(same, a[i].percent_random, b[i].percent_random) << a[i].intervention;
      EXPECT_GT(a[i].tv_channels, 0.0) << a[i].intervention;  // the patches do something
    }
  }

  std::vector<MazeInput> cells;
  for (const Cell c : free_cells(levels[0])) cells.push_back({levels[0], c});
  const at::Tensor acts_one = p.activations(cells, layer, kOnePass), acts_chunked = p.activations(cells, layer, kSmall);
  ASSERT_EQ(acts_one.sizes(), acts_chunked.sizes());
  EXPECT_TRUE(torch::allclose(acts_one, acts_chunked, 1e-5, 1e-6));
}

}  // namespace
}  // namespace shardlab::analysis
