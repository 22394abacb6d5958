// The learners as their references have them (issue 31): IQL's reward rescaling by the
// dataset's trajectory-return spread (the split, the rule for equal returns, the scale in a run),
// IQL's reference policy head, IQL with zero rewards at the behaviour-cloning fixed point, BC as
// ATAC's actor warm start, and datasets whose expert reference acts as the learners are
// evaluated and whose medium is chosen by evaluation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "experiments/schema.h"
#include "offline/atac.h"
#include "offline/bc.h"
#include "offline/dataset.h"
#include "offline/dataset_maker.h"
#include "offline/iql.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

using test::run_cli;
namespace fs = std::filesystem;

ObservationSpec wide_vector_obs(int64_t n) {
  ObservationSpec o;
  o.shape = {n};
  o.low = -100;
  o.high = 100;
  return o;
}

ActionSpec unit_actions(int64_t dim) {
  ActionSpec a;
  a.discrete = false;
  a.dim = dim;
  return a;
}

// 10 rows, 1-dim observations (row i holds i), rewards i; terminals at rows 2 and 8, a timeout at
// row 5, row 9 unfinished. Without next observations a run samples rows 0-4 and 6-8.
std::string write_flagged(const std::string& path) {
  Experience e;
  e.observation_spec = wide_vector_obs(1);
  e.action_spec = unit_actions(1);
  for (int i = 0; i < 10; ++i) {
    e.observations.push_back(static_cast<float>(i));
    e.continuous_actions.push_back(0.05f * i);
    e.rewards.push_back(static_cast<float>(i));
    e.terminals.push_back(i == 2 || i == 8);
    e.timeouts.push_back(i == 5);
  }
  ExperienceWriter w(path, e.observation_spec, e.action_spec, false, {}, {}, true);
  w.append(e);
  w.close();
  return path;
}

// 8 rows with next observations, rewards i + 1: a terminal at row 2, a timeout at row 4, and after
// row 6 an episode end that no flag records, only the jump from its next observation (50) to
// row 7's observation (7). Row 7 is unfinished.
std::string write_with_next(const std::string& path) {
  Experience e;
  e.observation_spec = wide_vector_obs(1);
  e.action_spec = unit_actions(1);
  for (int i = 0; i < 8; ++i) {
    e.observations.push_back(static_cast<float>(i));
    e.next_observations.push_back(i == 6 ? 50.0f : i == 4 ? 4.5f : static_cast<float>(i + 1));
    e.continuous_actions.push_back(0.0f);
    e.rewards.push_back(static_cast<float>(i + 1));
    e.terminals.push_back(i == 2);
    e.timeouts.push_back(i == 4);
  }
  ExperienceWriter w(path, e.observation_spec, e.action_spec, true, {}, {}, true);
  w.append(e);
  w.close();
  return path;
}

TEST(IqlRewardScale, TrajectoriesAreSplitAsTheReferenceSplitsThem) {
  const std::string dir = test::make_temp_dir();
  const std::string flagged = write_flagged(dir + "/flagged.h5");
  // [0 1 2] ends at the terminal, [3 4] where the run's rows skip the timeout row 5, [6 7 8] at the
  // terminal; rows 5 and 9 are never sampled.
  EXPECT_EQ(trajectory_returns(flagged, RewardLabel::kTrue, 0), (std::vector<double>{3, 7, 21}));
  EXPECT_EQ(trajectory_returns(flagged, RewardLabel::kNegative, 0), (std::vector<double>{-3, -7, -21}));
  EXPECT_EQ(trajectory_returns(flagged, RewardLabel::kZero, 0), (std::vector<double>{0, 0, 0}));
  // [1 2 3] terminal, [4 5] timeout, [6 7] the observation jump, [8] the unfinished last one.
  const std::string with_next = write_with_next(dir + "/next.h5");
  EXPECT_EQ(trajectory_returns(with_next, RewardLabel::kTrue, 0), (std::vector<double>{6, 9, 13, 8}));
  // Random labels: the run's own draws (its relabel seed), summed over the same trajectories.
  std::vector<float> labels(8, 0.0f);
  relabel_rewards(RewardLabel::kRandom, offline_relabel_seed(3), 0, labels);
  const std::vector<double> random = trajectory_returns(with_next, RewardLabel::kRandom, offline_relabel_seed(3));
  ASSERT_EQ(random.size(), 4u);
  EXPECT_FLOAT_EQ(random[0], labels[0] + labels[1] + labels[2]);
  EXPECT_FLOAT_EQ(random[3], labels[7]);
}

TEST(IqlRewardScale, ThousandOverTheSpreadAndOneWhenEveryReturnIsEqual) {
  EXPECT_DOUBLE_EQ(iql_reward_scale({3, 7, 21}), 1000.0 / 18.0);
  EXPECT_DOUBLE_EQ(iql_reward_scale({-21, -7, -3}), 1000.0 / 18.0);
  EXPECT_DOUBLE_EQ(iql_reward_scale({0, 0, 0}), 1.0);  // the zero label
  EXPECT_DOUBLE_EQ(iql_reward_scale({5}), 1.0);        // one trajectory
  EXPECT_DOUBLE_EQ(iql_reward_scale({}), 1.0);
}

Spec iql_spec(const std::string& dataset, const std::string& reward, const std::string& scale) {
  Spec spec(shardlab_schema());
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"offline.dataset", dataset},
                                                        {"offline.reward", reward},
                                                        {"offline.algo", "iql"},
                                                        {"iql.reward_scale", scale},
                                                        {"agent.torso", "mlp"},
                                                        {"agent.hidden", "16"},
                                                        {"agent.policy_head", "tanh_mean_gaussian"},
                                                        {"iql.hidden", "16"}})
    spec.set(k, v, "test");
  return spec;
}

TEST(IqlRewardScale, TheLearnerScalesTheRewardsOfItsRunsDataset) {
  const std::string file = write_flagged(test::make_temp_dir() + "/flagged.h5");
  auto scale_of = [&](const std::string& reward, const std::string& rule) {
    const Spec spec = iql_spec(file, reward, rule);
    at::Generator init = at::detail::createCPUGenerator(1);
    return IqlLearner({spec, wide_vector_obs(1), unit_actions(1), torch::kCPU, init, 10}, IqlConfig::from_spec(spec))
        .reward_scale();
  };
  EXPECT_DOUBLE_EQ(scale_of("true", "trajectory"), 1000.0 / 18.0);
  EXPECT_DOUBLE_EQ(scale_of("negative", "trajectory"), 1000.0 / 18.0);
  EXPECT_DOUBLE_EQ(scale_of("zero", "trajectory"), 1.0);
  EXPECT_DOUBLE_EQ(scale_of("true", "none"), 1.0);

  // The scaled learner on rewards r updates exactly as the unscaled one on rewards scale * r.
  const Spec scaled_spec = iql_spec(file, "true", "trajectory"), plain_spec = iql_spec(file, "true", "none");
  at::Generator init_a = at::detail::createCPUGenerator(5), init_b = at::detail::createCPUGenerator(5);
  IqlLearner scaled({scaled_spec, wide_vector_obs(1), unit_actions(1), torch::kCPU, init_a, 10},
                    IqlConfig::from_spec(scaled_spec));
  IqlLearner plain({plain_spec, wide_vector_obs(1), unit_actions(1), torch::kCPU, init_b, 10},
                   IqlConfig::from_spec(plain_spec));
  Transitions batch;
  batch.observations = torch::rand({8, 1});
  batch.next_observations = torch::rand({8, 1});
  batch.actions = torch::rand({8, 1}) - 0.5;
  batch.rewards = torch::rand({8});
  batch.terminals = torch::zeros({8});
  Transitions multiplied = batch;
  multiplied.rewards = batch.rewards * scaled.reward_scale();
  at::Generator gen_a = at::detail::createCPUGenerator(2), gen_b = at::detail::createCPUGenerator(2);
  for (int step = 1; step <= 3; ++step) {
    const auto a = scaled.update(batch, step, gen_a), b = plain.update(multiplied, step, gen_b);
    EXPECT_NEAR(a.at("losses/q_loss"), b.at("losses/q_loss"), 1e-4 * std::abs(b.at("losses/q_loss")));
    EXPECT_NEAR(a.at("losses/value"), b.at("losses/value"), 1e-5);
    EXPECT_DOUBLE_EQ(a.at("charts/reward_scale"), 1000.0 / 18.0);
    EXPECT_DOUBLE_EQ(b.at("charts/reward_scale"), 1.0);
  }
}

// The scale in a real run, with the random label: the learner's rewards are the run's own draws
// (the run's reward range in run.json is the range of offline_relabel_seed(run.seed)'s labels).
TEST(IqlRewardScale, AnOfflineRunRecordsTheScaleOfItsRelabeledData) {
  const std::string dir = test::make_temp_dir();
  const std::string file = write_with_next(dir + "/next.h5");
  const auto r = run_cli("offline --set offline.dataset=" + file +
                         " --set offline.algo=iql --set offline.reward=random --set run.seed=4 --set offline.steps=4"
                         " --set offline.log_every=2 --set offline.batch_size=8 --set offline.eval_episodes=0"
                         " --set agent.torso=mlp --set agent.hidden=16 --set iql.hidden=16"
                         " --set agent.policy_head=tanh_mean_gaussian --set run.name=iql --out " +
                         dir + "/runs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<double> returns = trajectory_returns(file, RewardLabel::kRandom, offline_relabel_seed(4));
  const double scale = iql_reward_scale(returns);
  EXPECT_NE(r.err.find("iql: rewards (random) x"), std::string::npos) << r.err;
  const OfflineDataset data = OfflineDataset::load(file, RewardLabel::kRandom, offline_relabel_seed(4));
  const nlohmann::json run = nlohmann::json::parse(test::read_file(dir + "/runs/iql/run.json"));
  EXPECT_FLOAT_EQ(run["reward_range"][0].get<float>(), data.reward_min());
  EXPECT_FLOAT_EQ(run["reward_range"][1].get<float>(), data.reward_max());
  const auto csv = test::read_csv(dir + "/runs/iql/metrics.csv");
  const auto column = std::find(csv[0].begin(), csv[0].end(), "charts/reward_scale") - csv[0].begin();
  ASSERT_LT(static_cast<size_t>(column), csv[0].size());
  EXPECT_NEAR(std::stod(csv[1][column]), scale, 1e-6 * scale);
}

// ---------------------------------------------------------------------------------------------
// IQL's reference policy head

TEST(IqlPolicyHead, TanhMeanGaussianIsTheReferencePolicy) {
  NetworkConfig config;
  config.torso = "mlp";
  config.hidden = 8;
  config.policy_head = "tanh_mean_gaussian";
  at::Generator init = at::detail::createCPUGenerator(3);
  ActorCritic net(config, wide_vector_obs(3), unit_actions(2), init);
  ASSERT_TRUE(net->log_std.defined());  // state-independent, a parameter
  EXPECT_FALSE(net->tanh_gaussian());
  ActivationTaps taps;
  taps.record("fc_policy_out");
  const at::Tensor x = torch::randn({5, 3}) * 10;
  const at::Tensor mean = net->forward(x, &taps).logits_or_mean;
  ASSERT_EQ(mean.sizes(), (std::vector<int64_t>{5, 2}));
  EXPECT_TRUE(torch::allclose(mean, torch::tanh(taps.recorded().at("fc_policy_out"))));  // tanh of the layer
  EXPECT_TRUE(torch::equal(greedy_action(*net, mean), mean));                            // evaluation: the mean
  // log-std clamped to [-5, 2] (the reference's log_std_min and LOG_STD_MAX); the Gaussian is not
  // squashed: log pi(a|s) is a plain Normal density, finite for actions beyond [-1, 1].
  torch::NoGradGuard no_grad;
  net->log_std.copy_(torch::tensor({-9.0f, 3.0f}));
  EXPECT_TRUE(torch::equal(net->gaussian_log_std(), torch::tensor({-5.0f, 2.0f})));
  const at::Tensor a = torch::tensor({{1.5f, -0.3f}}).expand({5, 2});
  const at::Tensor sigma = torch::tensor({std::exp(-5.0f), std::exp(2.0f)});
  const at::Tensor expected = (-0.5 * ((a - mean) / sigma).pow(2) - sigma.log() - 0.5 * std::log(2 * M_PI)).sum(1);
  EXPECT_TRUE(torch::allclose(log_prob_of(*net, mean, a), expected, 1e-4, 1e-3));
  // Actions outside [-1, 1] do not fit it.
  ActionSpec wide = unit_actions(2);
  wide.low = -2;
  wide.high = 2;
  EXPECT_THROW(ActorCritic(config, wide_vector_obs(3), wide, init), InputError);
}

// Loading IQL's head for evaluation: OfflinePolicyHead.SavedOfflinePoliciesLoadForEvaluation.
TEST(IqlPolicyHead, AnIqlRunWithAnotherHeadSaysWhatTheReferencesIs) {
  // An IQL run with ATAC's head trains, and says once that the reference's head is another.
  const std::string dir = test::make_temp_dir();
  const std::string file = write_flagged(dir + "/flagged.h5");
  const auto r = run_cli("offline --set offline.dataset=" + file +
                         " --set offline.algo=iql --set offline.steps=2 --set offline.log_every=1"
                         " --set offline.batch_size=4 --set offline.eval_episodes=0 --set agent.torso=mlp"
                         " --set agent.hidden=8 --set iql.hidden=8 --set agent.policy_head=tanh_gaussian"
                         " --set run.name=iql --out " +
                         dir + "/runs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("the reference's policy is agent.policy_head = tanh_mean_gaussian"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------------------------
// IQL with zero rewards is behaviour cloning

TEST(IqlFixedPoint, ZeroRewardsReachAdvantageWeightsOfOneAndBcsGradient) {
  // A faster target (tau 0.05 instead of 0.005) so the fixed point is reached in a test's time;
  // the fixed point itself does not depend on it.
  Spec spec = iql_spec("", "zero", "trajectory");
  spec.set("iql.tau", "0.05", "test");
  at::Generator init = at::detail::createCPUGenerator(11);
  IqlLearner iql({spec, wide_vector_obs(3), unit_actions(2), torch::kCPU, init, 3000}, IqlConfig::from_spec(spec));
  // A small dataset of 64 transitions, every reward 0.
  at::Generator data = at::detail::createCPUGenerator(12);
  Transitions all;
  all.observations = at::rand({64, 3}, data);
  all.next_observations = at::rand({64, 3}, data);
  all.actions = at::rand({64, 2}, data) * 1.6 - 0.8;
  all.rewards = torch::zeros({64});
  all.terminals = (at::rand({64}, data) < 0.2).to(torch::kFloat32);
  at::Generator gen = at::detail::createCPUGenerator(13);
  const at::Tensor initial_weights = iql.advantage_weights(all);
  for (int64_t step = 1; step <= 3000; ++step) {
    const at::Tensor pick = at::randint(64, {32}, gen, torch::kInt64);
    Transitions batch{all.observations.index_select(0, pick), all.actions.index_select(0, pick),
                      all.rewards.index_select(0, pick), all.next_observations.index_select(0, pick),
                      all.terminals.index_select(0, pick)};
    iql.update(batch, step, gen);
  }
  const at::Tensor weights = iql.advantage_weights(all);
  // Far from 1 at the start (mean |w - 1| was 0.52 when written); at 1 up to Adam's noise floor
  // (0.007 mean, 0.027 at most; Q and V within 0.015 of 0; the gradients 0.4% apart).
  EXPECT_GT((initial_weights - 1).abs().mean().item<double>(), 0.2);
  EXPECT_LT((weights - 1).abs().mean().item<double>(), 0.02) << weights;
  EXPECT_LT((weights - 1).abs().max().item<double>(), 0.05) << weights;
  {
    torch::NoGradGuard no_grad;
    EXPECT_LT(iql.continuous_q->forward(all.observations, all.actions).abs().max().item<double>(), 0.03);
    EXPECT_LT(iql.value->forward(all.observations).abs().max().item<double>(), 0.03);
  }
  // At the fixed point the actor's gradient is BC's: -mean(w log pi(a|s)) against -mean(log pi(a|s)).
  ActorCritic policy = iql.policy();
  auto gradient_of = [&](const at::Tensor& w) {
    policy->zero_grad();
    const at::Tensor log_prob = log_prob_of(*policy, policy->forward(all.observations).logits_or_mean, all.actions);
    (-(w * log_prob).mean()).backward();
    std::vector<at::Tensor> parts;
    for (const auto& p : policy->parameters())
      if (p.grad().defined()) parts.push_back(p.grad().flatten().clone());
    return torch::cat(parts);
  };
  const at::Tensor awr = gradient_of(weights), bc = gradient_of(torch::ones_like(weights));
  EXPECT_LT((awr - bc).norm().item<double>(), 0.02 * bc.norm().item<double>());
}

// ---------------------------------------------------------------------------------------------
// BC: ATAC's actor warm start on its own

TEST(BcAsAtacsWarmStart, DefaultsAreTheWarmStartsOptimiserRateAndObjective) {
  const Spec defaults(shardlab_schema());
  const BcConfig bc = BcConfig::from_spec(defaults);
  const AtacConfig atac = AtacConfig::from_spec(defaults);
  EXPECT_EQ(bc.learning_rate, atac.warmup_lr);
  EXPECT_EQ(bc.objective, "warm_start");
  EXPECT_EQ(bc.discrete_entropy_fraction, atac.discrete_entropy_fraction);

  // One update by hand: the temperature's Adam step from log alpha = 0 moves it by -lr * sign(H -
  // target), then loss = normalized_sum(-mean log pi(a|s), -H, alpha) with H from one rsample.
  Spec spec(shardlab_schema());
  spec.set("agent.torso", "mlp", "test");
  spec.set("agent.hidden", "16", "test");
  spec.set("agent.policy_head", "tanh_gaussian", "test");
  at::Generator init = at::detail::createCPUGenerator(21), copy_init = at::detail::createCPUGenerator(21);
  BcLearner learner({spec, wide_vector_obs(3), unit_actions(2), torch::kCPU, init, 10}, BcConfig::from_spec(spec));
  ActorCritic twin(NetworkConfig::from_spec(spec), wide_vector_obs(3), unit_actions(2), copy_init);
  atac_init_actor(*twin, atac, copy_init);  // nn.Linear's defaults (atac.actor_init = pytorch)
  EXPECT_EQ(learner.target_entropy(), -2.0);
  {  // BC's policy starts where ATAC's actor does, from the same generator
    at::Generator atac_init = at::detail::createCPUGenerator(21);
    AtacLearner atac_learner({spec, wide_vector_obs(3), unit_actions(2), torch::kCPU, atac_init, 10}, atac);
    const auto a = atac_learner.policy()->parameters(), b = twin->parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  }
  Transitions batch;
  batch.observations = torch::rand({16, 3});
  batch.next_observations = torch::rand({16, 3});
  batch.actions = torch::rand({16, 2}) * 1.8 - 0.9;
  batch.rewards = torch::zeros({16});
  batch.terminals = torch::zeros({16});
  at::Generator gen = at::detail::createCPUGenerator(5), twin_gen = at::detail::createCPUGenerator(5);
  const auto m = learner.update(batch, 1, gen);
  torch::NoGradGuard no_grad;
  const at::Tensor out = twin->forward(batch.observations).logits_or_mean;
  // Per action dimension (atac.entropy = per_dimension): the summed log-densities over |A| = 2.
  const double entropy = -rsample_action(*twin, out, twin_gen).log_prob.mean().item<double>() / 2;
  const double alpha = std::exp(-5e-4 * (entropy > -2.0 ? 1.0 : -1.0));
  const double log_likelihood = log_prob_of(*twin, out, batch.actions).mean().item<double>() / 2;
  EXPECT_NEAR(m.at("losses/entropy"), entropy, 1e-5);
  EXPECT_NEAR(m.at("charts/alpha"), alpha, 1e-6);
  EXPECT_NEAR(learner.alpha(), alpha, 1e-6);
  const at::Tensor expected_loss =
      normalized_sum(torch::tensor(-log_likelihood, torch::kFloat64), torch::tensor(-entropy, torch::kFloat64), alpha);
  EXPECT_NEAR(m.at("losses/bc_loss"), expected_loss.item<double>(), 1e-4);
}

TEST(BcAsAtacsWarmStart, TheLikelihoodObjectiveKeepsTheOldBehaviourAndBadKeysGiveOneLine) {
  Spec spec(shardlab_schema());
  spec.set("agent.torso", "mlp", "test");
  spec.set("agent.hidden", "16", "test");
  spec.set("bc.objective", "likelihood", "test");
  spec.set("bc.learning_rate", "1e-3", "test");
  at::Generator init = at::detail::createCPUGenerator(2), copy_init = at::detail::createCPUGenerator(2);
  BcLearner learner({spec, wide_vector_obs(3), unit_actions(2), torch::kCPU, init, 10}, BcConfig::from_spec(spec));
  ActorCritic twin(NetworkConfig::from_spec(spec), wide_vector_obs(3), unit_actions(2), copy_init);
  Transitions batch;
  batch.observations = torch::rand({16, 3});
  batch.next_observations = batch.observations;
  batch.actions = torch::rand({16, 2});
  batch.rewards = torch::zeros({16});
  batch.terminals = torch::zeros({16});
  at::Generator gen = at::detail::createCPUGenerator(5);
  const auto m = learner.update(batch, 1, gen);
  torch::NoGradGuard no_grad;
  const double ll =
      log_prob_of(*twin, twin->forward(batch.observations).logits_or_mean, batch.actions).mean().item<double>();
  EXPECT_NEAR(m.at("losses/bc_loss"), -ll, 1e-5);
  EXPECT_EQ(m.at("charts/alpha"), 0.0);

  const std::string file = write_flagged(test::make_temp_dir() + "/flagged.h5");
  test::expect_one_line_error(run_cli("offline --set offline.dataset=" + file +
                                      " --set offline.algo=bc --set offline.eval_episodes=0 --set bc.entropy_coef=0.1"),
                              "bc.entropy_coef");
}

// ---------------------------------------------------------------------------------------------
// Datasets: greedy references and medium by evaluation

std::vector<MediumCandidate> walk(const std::vector<double>& scores, size_t start, int64_t most) {
  std::vector<std::string> checkpoints;
  for (size_t i = 0; i < scores.size(); ++i) checkpoints.push_back("c" + std::to_string(i));
  return walk_to_medium(checkpoints, start, 100.0 / 3.0, most, [&](const std::string& c) {
    return MediumCandidate{c, 0.0, scores[std::stoul(c.substr(1))]};
  });
}

std::vector<std::string> names(const std::vector<MediumCandidate>& measured) {
  std::vector<std::string> out;
  for (const auto& m : measured) out.push_back(m.checkpoint);
  return out;
}

TEST(MediumByEvaluation, WalksFromTheTrainingCurvesPickUntilTheScoreCrossesOneThird) {
  const std::vector<double> scores = {0, 10, 20, 30, 40, 50, 60, 70};
  // The training curve lags: its pick (c6) measures 60; the walk goes earlier to c3 (30).
  EXPECT_EQ(names(walk(scores, 6, 8)), (std::vector<std::string>{"c6", "c5", "c4", "c3"}));
  EXPECT_EQ(names(walk(scores, 6, 2)), (std::vector<std::string>{"c6", "c5"}));  // the budget
  EXPECT_EQ(names(walk(scores, 1, 8)), (std::vector<std::string>{"c1", "c2", "c3", "c4"}));
  EXPECT_EQ(names(walk({50, 60}, 0, 8)), (std::vector<std::string>{"c0"}));  // no earlier checkpoint
  EXPECT_EQ(names(walk({10, 20}, 0, 8)), (std::vector<std::string>{"c0", "c1"}));
}

// A tiny expert run (8,192 steps of the lander): the expert reference is measured greedily, as
// learners on the lander are evaluated; the behaviour return stays sampled; medium records its
// candidates' measured scores.
TEST(DatasetReferences, ExpertIsGreedyBehaviourSampledAndMediumChosenByEvaluation) {
  const std::string dir = test::make_temp_dir();
  const std::string config = "--set dataset.runs=" + dir + "/experts --set dataset.size=400" +
                             " --set dataset.expert_total_steps=8192 --set dataset.reference_episodes=3";
  const auto r =
      run_cli("dataset make --task lunar_lander_continuous --quality medium,expert --out-dir " + dir + " " + config);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expert = dir + "/experts/lunar_lander_continuous_8192";
  const double greedy = evaluate_checkpoint(expert, shardlab_schema(), {}, 3, true).mean_return;
  const double sampled = evaluate_checkpoint(expert, shardlab_schema(), {}, 3, false).mean_return;
  ASSERT_NE(greedy, sampled);
  const ExperienceReader medium(dir + "/lunar_lander_continuous-medium.h5");
  const auto& m = medium.metadata();
  EXPECT_EQ(m.at("reference_expert_action"), "greedy");
  EXPECT_NEAR(std::stod(m.at("reference_expert_return")), greedy, 1e-3);
  EXPECT_NEAR(std::stod(m.at("reference_expert_greedy_return")), greedy, 1e-3);
  EXPECT_NEAR(std::stod(m.at("reference_expert_sampled_return")), sampled, 1e-3);
  EXPECT_EQ(m.at("policy_mean_return_action"), "sampled (as the data was collected)");
  const std::string chosen = m.at("source_checkpoint");
  EXPECT_NEAR(std::stod(m.at("policy_mean_return")),
              evaluate_checkpoint(chosen, shardlab_schema(), {}, 3, false).mean_return, 1e-3);
  EXPECT_NE(m.at("medium_candidates").find(fs::path(chosen).filename().string()), std::string::npos)
      << m.at("medium_candidates");
  EXPECT_NE(m.at("medium_chosen_by").find("evaluation"), std::string::npos);
  // An expert dataset's behaviour is the expert acting sampled.
  const ExperienceReader expert_data(dir + "/lunar_lander_continuous-expert.h5");
  EXPECT_NEAR(std::stod(expert_data.metadata().at("policy_mean_return")), sampled, 1e-3);
  EXPECT_TRUE(fs::exists(expert + "/medium.json"));
}

}  // namespace
}  // namespace shardlab
