// The maze studies: decision squares, steering-vector arithmetic, patches, activation logs (and
// their layout through h5py), retargeting, the logistic regression, and clear errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "agents/checkpoint.h"
#include "analysis/activation_log.h"
#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/retarget.h"
#include "analysis/steering.h"
#include "analysis/study.h"
#include "analysis/vector_field.h"
#include "core/error.h"
#include "envs/maze/maze_paths.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab::analysis {
namespace {

using test::kLayer;

MazeLayout hand_built() {
  // A perfect 5x5 maze; the paths to the cheese and to the corner part at world (3, 5).
  return maze::layout_from_rows({
      "#######",
      "#.....#",
      "#.#.#.#",
      "#.#C#.#",
      "#.###.#",
      "#M#...#",
      "#######",
  });
}

TEST(Analysis, DecisionSquareMoves) {
  const MazeLayout m = hand_built();
  const auto ds = find_decision_square(m);
  ASSERT_TRUE(ds.has_value());
  EXPECT_EQ(ds->cell, (Cell{3, 5}));
  EXPECT_EQ(ds->cheese_move, maze::kDown);      // (3, 5) -> (3, 4) -> cheese (3, 3)... y up
  EXPECT_EQ(ds->top_right_move, maze::kRight);  // (3, 5) -> (4, 5) -> corner (5, 5)
  MazeLayout no_choice = m;
  no_choice.cheese = {2, 5};  // on the way to the corner
  EXPECT_FALSE(find_decision_square(no_choice).has_value());
}

TEST(Analysis, TopRightCorridorReachesTheWorldCorner) {
  const MazeLayout m = maze::generate_maze(0, maze::kEasyWorld, maze::Placement{});
  if (m.maze_dim == m.world_size) GTEST_SKIP() << "seed 0's maze fills the world";
  const auto c = with_top_right_corridor(m);
  ASSERT_TRUE(c.has_value());
  const auto path = maze::shortest_path(*c, m.top_right(), {m.world_size - 1, m.world_size - 1});
  EXPECT_FALSE(path.empty());
  // Only cells outside the maze were opened.
  for (int y = 0; y < m.world_size; ++y)
    for (int x = 0; x < m.world_size; ++x)
      if (m.is_free({x, y})) {
        EXPECT_TRUE(c->is_free({x, y}));
      }
}

TEST(Analysis, ZeroVectorChangesNothingAndCheeseVectorUndoesTheCheese) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const auto levels = study_levels(p, 0, 40);
  SteeringStudy zero;
  zero.layer = kLayer;
  zero.coeff = 0.0;
  const auto rows = run_steering(p, levels, zero);
  ASSERT_FALSE(rows.empty());
  for (const auto& r : rows) {
    EXPECT_EQ(r.p_cheese_steered, r.p_cheese);
    EXPECT_EQ(r.p_top_right_steered, r.p_top_right);
  }
  // The cheese vector of a maze, subtracted on that maze (mouse at the start), gives the policy
  // output of the maze without cheese. Every layer, every maze with cheese.
  for (const std::string& layer : {std::string("embedder.block1.conv_out"), kLayer, std::string("embedder.fc_out")}) {
    for (int i = 0; i < 5; ++i) {
      const MazeLayout& m = levels[i];
      const at::Tensor v = cheese_vector(p, layer, m);
      ActivationTaps taps;
      taps.add_patch(layer, add_vector(v, -1.0));
      const at::Tensor steered = p.forward({{m, m.start}}, &taps).probs;
      const at::Tensor without = p.forward({{without_cheese(m), m.start}}).probs;
      EXPECT_TRUE(torch::allclose(steered, without, 1e-5, 1e-6)) << layer << " seed " << m.level_seed;
      // And the cheese matters to this network at all (the check is not vacuous).
      EXPECT_GT(v.abs().max().item<double>(), 0.0);
    }
  }
}

TEST(Analysis, RandomControlHasTheVectorsNorm) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor v = torch::rand({8, 4, 4});
  const at::Tensor r = random_vector_like(v, gen);
  EXPECT_NEAR(r.norm().item<double>(), v.norm().item<double>(), 1e-4);
  EXPECT_FALSE(torch::allclose(r, v));
}

TEST(Analysis, ProcgenActionsSumIntoFiveMoves) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const auto levels = study_levels(p, 0, 4);
  const at::Tensor probs = p.forward({{levels[0], levels[0].start}, {levels[1], levels[1].start}}).probs;
  EXPECT_EQ(probs.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_TRUE(torch::allclose(probs.sum(1), torch::ones({2}), 1e-5, 1e-6));
}

TEST(Analysis, PatchesFromTextAndTheirErrors) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const MazeLayout m = *p.level(3);
  const VectorField plain = vector_field(p, m);
  EXPECT_EQ(plain.probs.size(0), static_cast<int64_t>(plain.cells.size()));

  ActivationTaps same;
  add_patch_from_text(p, m, "cheese-vector:" + kLayer + ":0", same);
  EXPECT_TRUE(torch::equal(vector_field(p, m, &same).probs, plain.probs));

  ActivationTaps edit;
  add_patch_from_text(
      p, m, "channel:" + kLayer + ":2:50:" + std::to_string(m.top_right().x) + ":" + std::to_string(m.top_right().y),
      edit);
  EXPECT_FALSE(torch::equal(vector_field(p, m, &edit).probs, plain.probs));

  ActivationTaps taps;
  EXPECT_THROW(add_patch_from_text(p, m, "channel:embedder.block9.conv_out:2:1:1:1", taps), InputError);
  EXPECT_THROW(add_patch_from_text(p, m, "channel:" + kLayer + ":8:1:1:1", taps), InputError);  // 8 channels: 0..7
  EXPECT_THROW(add_patch_from_text(p, m, "zero:" + kLayer + ":1,x", taps), InputError);
  EXPECT_THROW(add_patch_from_text(p, m, "scale:" + kLayer + ":2", taps), InputError);
  EXPECT_THROW(p.layer_shape("embedder.block2.res3.resadd_out"), InputError);
}

TEST(Analysis, ChannelSetsComeAsListsOrAsTheTopOfAChannelsRanking) {
  EXPECT_EQ(channels_of("3,1,2,"), (std::vector<int64_t>{3, 1, 2}));
  const std::string dir = test::make_temp_dir();
  const std::string csv = dir + "/channels.csv";
  std::ofstream(csv) << "rank,channel,peak_hit_rate,probe_r2,mean_at_cheese,mean_elsewhere\n1,5,0.9,0.5,1,0\n"
                        "2,2,0.8,0.4,1,0\n3,7,0.1,0.1,0,0\n";
  EXPECT_EQ(channels_of("top:2:" + csv), (std::vector<int64_t>{5, 2}));
  EXPECT_EQ(channels_of("top:3:" + csv), (std::vector<int64_t>{5, 2, 7}));
  EXPECT_THROW(channels_of("top:4:" + csv), InputError);  // ranks only 3
  EXPECT_THROW(channels_of("top:0:" + csv), InputError);
  EXPECT_THROW(channels_of("top:2:" + dir + "/none.csv"), InputError);
  std::ofstream(dir + "/other.csv") << "a,b\n1,2\n";
  EXPECT_THROW(channels_of("top:1:" + dir + "/other.csv"), InputError);
  EXPECT_THROW(channels_of("1,x"), InputError);
}

TEST(Analysis, ActivationPositionsFollowTheReferenceRule) {
  // 64 x 64 input, block2 (16 x 16) over a 25-cell world: row floor((r + 0.5) * 2.56 / 4).
  for (int r = 0; r < 25; ++r) {
    const auto [h, w] = activation_position(25, 16, 16, {r, 24 - r});
    EXPECT_EQ(h, static_cast<int64_t>((r + 0.5) * 2.56 / 4));
    EXPECT_EQ(w, static_cast<int64_t>((r + 0.5) * 2.56 / 4));
  }
}

TEST(Analysis, RecordedLogReadsBackAndOpensInH5py) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  RecordOptions o;
  o.seed_begin = 0;
  o.seed_end = 12;
  o.layers = {kLayer, "embedder.fc_out"};
  const std::string path = dir + "/acts.h5";
  EXPECT_EQ(record_activations(p, o, path, "test"), 12);

  const ActivationLog log = ActivationLog::open(path);
  EXPECT_EQ(log.rows(), 12);
  EXPECT_EQ(log.layers(), o.layers);
  const auto shape = log.layer_shape(kLayer);
  const auto channel = log.channel(kLayer, 3);
  EXPECT_EQ(channel.shape, (std::vector<int64_t>{12, shape[1], shape[2]}));
  // The logged channel is the network's activation for that maze (same batch, same numbers).
  const auto levels = study_levels(p, 0, 12);
  std::vector<MazeInput> inputs;
  for (const auto& l : levels) inputs.push_back({l, l.start});
  const at::Tensor a = p.activations(inputs, kLayer);
  for (int64_t r = 0; r < shape[1]; ++r)
    for (int64_t c = 0; c < shape[2]; ++c)
      EXPECT_EQ(channel.data[(7 * shape[1] + r) * shape[2] + c], a[7][3][r][c].item<float>());
  Cell mouse;
  const MazeLayout back = log.maze(7, &mouse);
  EXPECT_EQ(back.walls, levels[7].walls);
  EXPECT_EQ(back.cheese, levels[7].cheese);
  EXPECT_EQ(mouse, levels[7].start);

  EXPECT_THROW(log.channel(kLayer, shape[0]), InputError);
  EXPECT_THROW(log.layer_shape("embedder.block1.conv_out"), InputError);  // not recorded
  // An existing file is kept unless forced.
  EXPECT_THROW(record_activations(p, o, path, "test"), InputError);
  EXPECT_EQ(ActivationLog::open(path).rows(), 12);

  const auto check = test::run_shell("/usr/bin/python3 " SHARDLAB_SOURCE_DIR "/tests/h5py_check_activations.py " +
                                     path + " 12 " + kLayer);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("OK"), std::string::npos) << check.out;
}

TEST(Analysis, FilesThatAreNotActivationLogsAreRefused) {
  const std::string dir = test::make_temp_dir();
  std::ofstream(dir + "/text.h5") << "not hdf5";
  EXPECT_THROW(ActivationLog::open(dir + "/text.h5"), FileError);
  EXPECT_THROW(ActivationLog::open(dir + "/absent.h5"), FileError);
  {
    Hdf5File f = Hdf5File::create(dir + "/other.h5");
    f.create_dataset("observations", Hdf5Type::kFloat32, {3});
    f.close();
  }
  EXPECT_THROW(ActivationLog::open(dir + "/other.h5"), FileError);
}

TEST(Analysis, InspectAndAnalyzeCommandsGiveOneLineErrors) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  const std::string log = dir + "/acts.h5";
  auto r = test::run_cli("analyze record " + ckpt + " --seeds 0:6 --layers " + kLayer + " --out " + log);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("inspect " + log + " --layer " + kLayer + " --channel 2 --maze 1 --svg " + dir + "/c2.svg");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("at_cheese"), std::string::npos) << r.out;
  EXPECT_TRUE(std::ifstream(dir + "/c2.svg").good());

  const auto one_line_error = [](const test::CommandResult& c, const std::string& needle) {
    EXPECT_EQ(c.exit_code, 2) << c.out << c.err;
    EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
    EXPECT_NE(c.err.find(needle), std::string::npos) << c.err;
  };
  one_line_error(test::run_cli("inspect " + log + " --layer embedder.nope"), "no layer 'embedder.nope'");
  one_line_error(test::run_cli("inspect " + log + " --layer " + kLayer + " --channel 99"), "out of range");
  std::ofstream(dir + "/junk.h5") << "junk";
  one_line_error(test::run_cli("inspect " + dir + "/junk.h5 --layer " + kLayer), "junk.h5");
  one_line_error(test::run_cli("analyze cheese-vector " + ckpt + " --seeds 0:20 --layer embedder.nope"),
                 "unknown layer 'embedder.nope'");
  one_line_error(
      test::run_cli("analyze retarget " + ckpt + " --protocol ours --seeds 0:2 --channels 1,200 --layer " + kLayer),
      "channel 200 out of range");
  one_line_error(test::run_cli("analyze record " + ckpt + " --seeds 0:6 --out " + log), "exists");
}

TEST(Analysis, StudiesWriteTheirFiles) {
  const std::string dir = test::make_temp_dir();
  const std::string ckpt = test::untrained_maze_policy(dir);
  auto r = test::run_cli("analyze cheese-vector " + ckpt + " --seeds 0:30 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("median_p_cheese_steered"), std::string::npos);
  EXPECT_TRUE(std::ifstream(dir + "/a/cheese_vector.csv").good());
  r = test::run_cli("analyze top-right-vector " + ckpt + " --seeds 0:30 --compose-cheese -1 --out " + dir + "/a");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("analyze vector-field " + ckpt + " --seed 4 --patch cheese-vector:" + kLayer + ":-1 --svg " + dir +
                    "/vf.svg");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::ifstream(dir + "/vf.svg").good());
  r = test::run_cli("analyze channels " + ckpt + " --seeds 0:30 --top 3 --out " + dir + "/a");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::ifstream(dir + "/a/channels_top.svg").good());
  r = test::run_cli("analyze resample " + ckpt + " --seeds 0:10 --channels 1,2 --random-sets 2 --out " + dir + "/a");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("analyze retarget " + ckpt + " --protocol ours --seeds 0:2 --channels 1 --max-targets 5 --out " +
                    dir + "/a");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("analyze behaviour " + ckpt +
                    " --protocol ours --seeds 0:60 --set env.max_episode_steps=20 --out " + dir + "/a");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("majority_baseline"), std::string::npos);
}

TEST(Analysis, VectorFieldLeavesOutTheCheeseCellAsTheReferenceDoes) {
  const std::string dir = test::make_temp_dir();
  const MazePolicy p = test::load_uniform_cheese_policy(test::untrained_maze_policy(dir));
  const MazeLayout m = *p.level(3);
  ASSERT_TRUE(m.has_cheese());
  const auto all = free_cells(m);
  const VectorField reference = vector_field(p, m);
  const VectorField every = vector_field(p, m, nullptr, VectorFieldCells::kAllFree);
  EXPECT_EQ(every.cells.size(), all.size());
  ASSERT_EQ(reference.cells.size(), all.size() - 1);
  EXPECT_EQ(std::count(reference.cells.begin(), reference.cells.end(), m.cheese), 0);
  EXPECT_EQ(std::count(every.cells.begin(), every.cells.end(), m.cheese), 1);
  EXPECT_EQ(reference.probs.size(0), static_cast<int64_t>(reference.cells.size()));
  // Without cheese there is nothing to leave out.
  EXPECT_EQ(vector_field(p, without_cheese(m)).cells.size(), all.size());
}

TEST(Analysis, NormalizedPathProbabilityIsTheGeometricMean) {
  const std::vector<Cell> path = {{1, 1}, {2, 1}, {2, 2}};  // right, then up
  at::Tensor probs = torch::zeros({2, 5});
  probs[0][maze::kRight] = 0.25;
  probs[1][maze::kUp] = 1.0;
  EXPECT_NEAR(normalized_path_probability(path, probs), 0.5, 1e-6);
}

TEST(Analysis, LogisticRegressionBeatsTheMajorityOnASignal) {
  std::vector<std::vector<double>> x;
  std::vector<bool> y;
  std::mt19937 rng(1);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (int i = 0; i < 400; ++i) {
    const double a = noise(rng), b = noise(rng);
    x.push_back({a, b});
    y.push_back(2.0 * a - 0.2 + 0.3 * noise(rng) > 0);
  }
  const LogisticFit fit = fit_logistic(x, y, 300, {"a", "b"});
  EXPECT_GT(fit.test_accuracy, 0.85);
  EXPECT_GT(fit.test_accuracy, fit.majority_baseline + 0.2);
  EXPECT_GT(fit.coefficients[0], 1.0);
  EXPECT_LT(std::abs(fit.coefficients[1]), std::abs(fit.coefficients[0]) / 4);
}

}  // namespace
}  // namespace shardlab::analysis
