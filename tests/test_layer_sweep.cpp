// The layer sweep's design (issue 30), each on a tiny randomly initialised network where the
// answer is known: the first conv of a one-hot grid is recognised as an input edit and its published
// row is the ceiling; a deeper layer is not; the no-edit row is 0; the scaled shift's RMS is
// |coeff| times the layer's RMS; the random control has its draws and is reproducible by seed; bad
// flags are one line.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "analysis/layer_sweep.h"
#include "analysis/maze_policy.h"
#include "core/error.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

const std::string kFirstConv = "embedder.block1.conv_out";
using test::kLayer;

LayerSweepOptions sweep_options(std::vector<std::string> layers) {
  LayerSweepOptions o;
  o.layers = std::move(layers);
  o.bootstrap_draws = 200;
  return o;
}

TEST(LayerSweep, LayersComeInNetworkOrderWithoutTheValueHead) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const auto layers = sweep_layers(policy, false);
  ASSERT_GE(layers.size(), 8u);
  EXPECT_EQ(layers.front(), kFirstConv);
  EXPECT_EQ(std::find(layers.begin(), layers.end(), "fc_value_out"), layers.end());
  EXPECT_NE(std::find(layers.begin(), layers.end(), kLayer), layers.end());
  const auto all = sweep_layers(policy, true);
  EXPECT_GT(all.size(), layers.size());
  for (const char* head : {"fc_value_out", "fc_policy_out"})
    EXPECT_EQ(std::find(all.begin(), all.end(), head), all.end());
}

TEST(LayerSweep, FirstConvIsAnInputEditWhosePublishedRowIsTheCeilingAndADeeperLayerIsNot) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const LayerSweep s = sweep_steering_layers(policy, study_levels(policy, 0, 40), sweep_options({kFirstConv, kLayer}));
  ASSERT_GE(s.mazes, 5);
  ASSERT_EQ(s.rows.size(), 2u);
  // The ceiling is a real effect here (the untrained network does read the cheese), so matching
  // it is not a matter of both being 0.
  double largest = 0;
  for (double e : s.ceiling.effect) largest = std::max(largest, std::abs(e));
  EXPECT_GT(largest, 1e-4);
  // The no-edit row is computed and exactly 0.
  ASSERT_EQ(s.no_edit.effect.size(), static_cast<size_t>(s.mazes));
  for (double e : s.no_edit.effect) EXPECT_EQ(e, 0);
  EXPECT_EQ(s.no_edit.mean_effect, 0);

  const LayerSweepRow& conv = s.rows[0];
  EXPECT_TRUE(conv.input_edit) << conv.input_edit_residual;
  const SweepEdit& published = conv.edits.back();
  ASSERT_EQ(published.reading, "published");
  ASSERT_EQ(published.coeff, -1);
  for (int64_t i = 0; i < s.mazes; ++i) EXPECT_NEAR(published.effect[i], s.ceiling.effect[i], 1e-5) << i;
  EXPECT_NEAR(published.fraction_of_ceiling, 1, 1e-3);

  const LayerSweepRow& deep = s.rows[1];
  EXPECT_FALSE(deep.input_edit);
  EXPECT_GT(deep.input_edit_residual, 100 * kInputEditTolerance);
  // The best layer is never an input edit.
  const auto best = best_layer(s, "published", -1);
  if (best.first) {
    EXPECT_EQ(best.first->layer, kLayer);
  }
  EXPECT_EQ(best_layer(s, "scaled", -1).first == nullptr, !std::isfinite(deep.edits.front().fraction_of_ceiling));
}

TEST(LayerSweep, ScaledShiftHasTheCoefficientTimesTheLayersRmsAlongTheVector) {
  torch::manual_seed(7);
  at::Tensor v = torch::randn({3, 2, 4, 4});
  v[1] *= 50;  // a big vector and a small one get the same shift RMS
  v[2] *= 0;   // a zero vector gives a zero shift
  const double layer_rms = 2.5;
  for (const double coeff : {-2.0, -0.5, 1.0}) {
    const at::Tensor shift = rms_scaled_shift(v, layer_rms, coeff);
    ASSERT_EQ(shift.sizes(), v.sizes());
    for (int64_t i = 0; i < 2; ++i) {
      EXPECT_NEAR(shift[i].pow(2).mean().sqrt().item<double>(), std::abs(coeff) * layer_rms, 1e-5);
      const double cosine = (shift[i] * v[i]).sum().item<double>() / (shift[i].norm() * v[i].norm()).item<double>();
      EXPECT_NEAR(cosine, coeff > 0 ? 1 : -1, 1e-5);
    }
    EXPECT_EQ(shift[2].abs().max().item<double>(), 0);
  }
}

TEST(LayerSweep, ScaledRowsShiftByTheLayersOwnRms) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const LayerSweep s = sweep_steering_layers(policy, study_levels(policy, 0, 20), sweep_options({kFirstConv, kLayer}));
  for (const auto& r : s.rows) {
    EXPECT_GT(r.activation_rms, 0);
    ASSERT_EQ(r.edits.size(), s.options.coeffs.size() + 1);
    for (size_t k = 0; k < s.options.coeffs.size(); ++k) {
      EXPECT_EQ(r.edits[k].reading, "scaled");
      EXPECT_EQ(r.edits[k].coeff, s.options.coeffs[k]);
      EXPECT_NEAR(r.edits[k].shift_rms, std::abs(s.options.coeffs[k]) * r.activation_rms, 1e-4 * r.activation_rms)
          << r.layer;
    }
    EXPECT_NEAR(r.edits.back().shift_rms, r.vector_rms, 1e-6 * (1 + r.vector_rms)) << r.layer;
  }
}

TEST(LayerSweep, RandomControlHasTheRequestedDrawsAndIsReproducibleBySeed) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy policy = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const auto levels = study_levels(policy, 0, 20);
  LayerSweepOptions o = sweep_options({kLayer});
  o.random_draws = 23;
  o.seed = 5;
  const LayerSweep a = sweep_steering_layers(policy, levels, o);
  const LayerSweep b = sweep_steering_layers(policy, levels, o);
  o.seed = 6;
  const LayerSweep c = sweep_steering_layers(policy, levels, o);
  for (size_t k = 0; k < a.rows[0].edits.size(); ++k) {
    const SweepEdit& e = a.rows[0].edits[k];
    ASSERT_EQ(e.random_effects.size(), 23u);
    EXPECT_EQ(e.random_effects, b.rows[0].edits[k].random_effects);
    EXPECT_EQ(e.effect_ci95.lo, b.rows[0].edits[k].effect_ci95.lo);
    EXPECT_NE(e.random_effects, c.rows[0].edits[k].random_effects);
    EXPECT_EQ(e.effect, c.rows[0].edits[k].effect);  // the cheese vector's own edit draws nothing
    EXPECT_LE(e.random_band95.lo, e.random_mean);
    EXPECT_GE(e.random_band95.hi, e.random_mean);
    EXPECT_GE(e.p_random, 1.0 / 24);
    EXPECT_LE(e.p_random, 1.0);
  }
  o.random_draws = kMinRandomDraws - 1;
  EXPECT_THROW(sweep_steering_layers(policy, levels, o), InputError);
  o.random_draws = kMinRandomDraws;
  o.coeffs.clear();
  EXPECT_THROW(sweep_steering_layers(policy, levels, o), InputError);
}

TEST(LayerSweep, CommandWritesItsFilesAndRefusesBadFlags) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const std::string layers = " --layers " + kFirstConv + "," + kLayer;
  auto r = test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:20" + layers + " --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ceiling (cheese removed from the input)"), std::string::npos) << r.out;
  EXPECT_NE(read_text_file(dir + "/a/layer_sweep.csv").find(kLayer + ",8x4x4,"), std::string::npos);
  const auto j = nlohmann::json::parse(read_text_file(dir + "/a/layer_sweep.json"));
  EXPECT_EQ(j["coeffs"].get<std::vector<double>>(), (std::vector<double>{-1, -0.5, -2}));
  EXPECT_EQ(j["random_draws"].get<int>(), 20);
  EXPECT_EQ(j["ceiling_effect_ci95"].size(), 2u);
  EXPECT_TRUE(j["ceiling_excludes_zero"].is_boolean());
  EXPECT_EQ(j["no_edit_effect"].get<double>(), 0);
  EXPECT_EQ(j["input_edit_layers"].get<std::vector<std::string>>(), std::vector<std::string>{kFirstConv});
  EXPECT_EQ(j["best_layer"]["layer"].get<std::string>(), kLayer);
  EXPECT_EQ(j["best_layer"]["fraction_of_ceiling_ci95"].size(), 2u);
  EXPECT_EQ(j["layers"][1]["edits"][0]["random_effect_band95"].size(), 2u);
  const std::string svg = read_text_file(dir + "/a/layer_sweep.svg");
  for (const std::string label : {"ceiling: cheese removed from the input", "random: 2.5-97.5 percentiles",
                                  "tap index in the network", "change of P(cheese | d.s.)"})
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  // Bad flags: one line each, nothing overwritten.
  const std::string before = read_text_file(dir + "/a/layer_sweep.csv");
  r = test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:20" + layers + " --out " + dir + "/a");
  test::expect_one_line_error(r, "exists");
  EXPECT_EQ(read_text_file(dir + "/a/layer_sweep.csv"), before);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {" --layers embedder.nope_out", "embedder.nope_out"},
      {" --random-draws 5", "--random-draws 5: expected at least 20"},
      {" --coeffs -1,x", "'x' is not a number"},
  };
  for (const auto& [flags, needle] : bad)
    test::expect_one_line_error(
        test::run_cli("analyze layer-sweep " + ckpt + " --seeds 0:20" + flags + " --out " + dir + "/b"), needle);
}

}  // namespace
}  // namespace shardlab::analysis
