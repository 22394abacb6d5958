// Networks, activation taps and patches, GAE, checkpoints.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "agents/activation_taps.h"
#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "agents/ppo.h"
#include "agents/reinforce.h"
#include "agents/run_dir.h"
#include "core/error.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

ActorCritic make_net(std::vector<int64_t> channels, int64_t side, int64_t actions = 15, bool channels_last = true) {
  NetworkConfig config;
  config.channels = std::move(channels);
  config.channels_last = channels_last;
  ObservationSpec obs;
  obs.shape = {3, side, side};
  ActionSpec act;
  act.num_actions = actions;
  at::Generator init = at::detail::createCPUGenerator(3);
  return ActorCritic(config, obs, act, init);
}

TEST(Networks, PublishedMazeModelShapesAndNames) {
  ActorCritic net = make_net({64, 128, 128}, 64);
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  // The studied network has about 3.65M parameters.
  EXPECT_NEAR(params / 1e6, 3.65, 0.05) << params;
  ActivationTaps taps;
  taps.record("embedder.block2.res1.resadd_out");
  taps.record("fc_policy_out");
  net->forward(torch::rand({2, 3, 64, 64}), &taps);
  EXPECT_EQ(taps.recorded().at("embedder.block2.res1.resadd_out").sizes(), (std::vector<int64_t>{2, 128, 16, 16}));
  EXPECT_EQ(taps.recorded().at("fc_policy_out").sizes(), (std::vector<int64_t>{2, 15}));
  // Parameter names follow procgen-tools.
  bool found = false;
  for (const auto& p : net->named_parameters()) found = found || p.key() == "embedder.block2.res1.conv1.weight";
  EXPECT_TRUE(found);
}

TEST(Networks, RecordAllSeesExactlyTheDeclaredLayers) {
  ActorCritic net = make_net({8, 16, 16}, 25);
  ActivationTaps taps;
  taps.record_all();
  net->forward(torch::rand({3, 3, 25, 25}), &taps);
  std::vector<std::string> seen;
  for (const auto& [name, t] : taps.recorded()) seen.push_back(name);
  std::vector<std::string> declared = net->layer_names();
  std::sort(declared.begin(), declared.end());
  EXPECT_EQ(seen, declared);
  EXPECT_EQ(taps.recorded().at("embedder.block1.maxpool_out").sizes(), (std::vector<int64_t>{3, 8, 13, 13}));
  ActivationTaps typo;
  typo.record("embedder.block2.res1.resadd");
  EXPECT_EQ(typo.unused(net->layer_names()), std::vector<std::string>{"embedder.block2.res1.resadd"});
}

TEST(Networks, ZeroPatchIsBitIdentical) {
  ActorCritic net = make_net({8, 16, 16}, 25);
  const at::Tensor x = torch::rand({4, 3, 25, 25});
  torch::NoGradGuard no_grad;
  // Compared with a pass through taps that patch nothing: with agent.conv = direct (the default) a
  // pass without taps runs the direct kernels, whose sums differ from libtorch's in the last bits.
  ActivationTaps none;
  const PolicyOutput plain = net->forward(x, &none);
  EXPECT_TRUE(torch::allclose(net->forward(x).logits_or_mean, plain.logits_or_mean, 1e-4, 1e-5));
  ActivationTaps taps;
  for (const auto& layer : net->layer_names()) {
    ActivationTaps probe;
    probe.record(layer);
    net->forward(x, &probe);
    taps.add_patch(layer, add_vector(torch::zeros_like(probe.recorded().at(layer)[0]), 1.0));
  }
  const PolicyOutput patched = net->forward(x, &taps);
  EXPECT_TRUE(torch::equal(plain.logits_or_mean, patched.logits_or_mean));
  EXPECT_TRUE(torch::equal(plain.value, patched.value));
}

TEST(Networks, PatchChangesOnlyWhatIsDownstream) {
  ActorCritic net = make_net({8, 16, 16}, 25);
  const at::Tensor x = torch::rand({2, 3, 25, 25});
  torch::NoGradGuard no_grad;
  ActivationTaps before, after;
  before.record_all();
  after.record_all();
  const std::string target = "embedder.block2.res1.resadd_out";
  after.add_patch(target, set_channel_at(3, 2, 4, 5.5));
  net->forward(x, &before);
  net->forward(x, &after);
  const auto& names = net->layer_names();
  const auto at = std::find(names.begin(), names.end(), target) - names.begin();
  for (int64_t i = 0; i < static_cast<int64_t>(names.size()); ++i) {
    const bool same = torch::equal(before.recorded().at(names[i]), after.recorded().at(names[i]));
    if (i < at)
      EXPECT_TRUE(same) << names[i] << " is upstream of the patch";
    else
      EXPECT_FALSE(same) << names[i] << " is downstream of the patch";
  }
  EXPECT_EQ(after.recorded().at(target)[1][3][2][4].item<float>(), 5.5f);
}

TEST(Networks, ChannelsLastComputesTheSameFunction) {
  ActorCritic a = make_net({8, 16, 16}, 15, 5, true);
  ActorCritic b = make_net({8, 16, 16}, 15, 5, false);
  const at::Tensor x = torch::rand({5, 3, 15, 15});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(a->forward(x).logits_or_mean, b->forward(x).logits_or_mean, 1e-4, 1e-5));
}

TEST(Networks, GaussianHeadLogProbAndEntropy) {
  NetworkConfig config;
  config.torso = "mlp";
  config.hidden = 16;
  ObservationSpec obs;
  obs.shape = {6};
  ActionSpec act;
  act.discrete = false;
  act.dim = 2;
  at::Generator init = at::detail::createCPUGenerator(0);
  ActorCritic net(config, obs, act, init);
  {
    torch::NoGradGuard no_grad;
    net->log_std.copy_(torch::tensor({0.5f, -1.0f}));
  }
  const PolicyOutput out = net->forward(torch::rand({4, 6}));
  ASSERT_EQ(out.logits_or_mean.sizes(), (std::vector<int64_t>{4, 2}));
  const at::Tensor a = torch::rand({4, 2});
  const at::Tensor std = torch::tensor({std::exp(0.5f), std::exp(-1.0f)});
  const at::Tensor z = (a - out.logits_or_mean) / std;
  const at::Tensor expected = (-0.5 * z.pow(2) - std.log() - 0.5 * std::log(2 * M_PI)).sum(1);
  EXPECT_TRUE(torch::allclose(log_prob_of(*net, out.logits_or_mean, a), expected, 1e-5, 1e-6));
  const double entropy = 2 * (0.5 + 0.5 * std::log(2 * M_PI)) + 0.5 - 1.0;
  EXPECT_NEAR(entropy_of(*net, out.logits_or_mean)[0].item<double>(), entropy, 1e-5);
  at::Generator gen = at::detail::createCPUGenerator(1);
  const ActionSample s = sample_action(*net, out.logits_or_mean, gen);
  EXPECT_EQ(s.action.sizes(), (std::vector<int64_t>{4, 2}));
}

TEST(Ppo, GaeBootstrapsOnTruncationNotTermination) {
  // One environment, three steps: step 0 continues, step 1 is truncated, step 2 terminates.
  Rollout r;
  r.rewards = torch::tensor({1.0f, 2.0f, 3.0f}).reshape({3, 1});
  r.values = torch::tensor({0.5f, 0.25f, 0.125f}).reshape({3, 1});
  r.terminated = torch::tensor({0.0f, 0.0f, 1.0f}).reshape({3, 1});
  r.truncated = torch::tensor({0.0f, 1.0f, 0.0f}).reshape({3, 1});
  r.final_values = torch::tensor({0.0f, 4.0f, 0.0f}).reshape({3, 1});
  r.next_value = torch::tensor({100.0f});
  at::Tensor adv, ret;
  const double g = 0.9, l = 0.5;
  compute_gae(r, g, l, adv, ret);
  const double a2 = 3.0 - 0.125;                    // terminal: no bootstrap
  const double a1 = 2.0 + g * 4.0 - 0.25;           // truncated: V(final obs), chain cut
  const double a0 = (1.0 + g * 0.25 - 0.5) + g * l * a1;
  EXPECT_NEAR(adv[2][0].item<double>(), a2, 1e-5);
  EXPECT_NEAR(adv[1][0].item<double>(), a1, 1e-5);
  EXPECT_NEAR(adv[0][0].item<double>(), a0, 1e-5);
  EXPECT_NEAR(ret[0][0].item<double>(), a0 + 0.5, 1e-5);
}

// A one-step task where action 2 pays 1 and the others 0: PPO and REINFORCE updates must move
// probability onto action 2.
Rollout bandit_rollout(ActorCriticImpl& net, at::Generator& gen) {
  const int64_t T = 16, N = 8;
  Rollout r;
  r.obs = torch::rand({T, N, 3, 15, 15}, gen);
  torch::NoGradGuard no_grad;
  const PolicyOutput out = net.forward(r.obs.flatten(0, 1));
  const ActionSample sample = sample_action(net, out.logits_or_mean, gen);
  r.actions = sample.action.reshape({T, N});
  r.log_probs = sample.log_prob.reshape({T, N});
  r.values = out.value.reshape({T, N});
  r.rewards = (r.actions == 2).to(torch::kFloat32);
  r.terminated = torch::ones({T, N});
  r.truncated = torch::zeros({T, N});
  r.final_values = torch::zeros({T, N});
  r.next_value = torch::zeros({N});
  return r;
}

TEST(Ppo, UpdatesMoveProbabilityTowardRewardedActions) {
  for (const char* algo : {"ppo", "reinforce"}) {
    ActorCritic net = make_net({4, 8, 8}, 15, 5);
    TrainConfig config;
    config.learning_rate = 1e-3;
    PpoConfig ppo;
    ppo.num_minibatches = 2;
    ppo.update_epochs = 2;
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(config.learning_rate).eps(1e-5));
    at::Generator gen = at::detail::createCPUGenerator(4);
    const at::Tensor probe = torch::rand({64, 3, 15, 15}, gen);
    auto p2 = [&] {
      torch::NoGradGuard no_grad;
      return torch::softmax(net->forward(probe).logits_or_mean, 1).select(1, 2).mean().item<double>();
    };
    const double before = p2();
    for (int i = 0; i < 30; ++i) {
      const Rollout r = bandit_rollout(*net, gen);
      if (std::string(algo) == "ppo")
        ppo_update(*net, adam, r, config, ppo, gen, torch::kCPU, Collective());
      else
        reinforce_update(*net, adam, r, config, ReinforceConfig(), torch::kCPU, Collective());
    }
    EXPECT_NEAR(before, 0.2, 0.02) << algo;
    EXPECT_GT(p2(), 0.5) << algo;
  }
}

TEST(Checkpoints, RoundTripAndBadFiles) {
  const std::string dir = test::make_temp_dir();
  const Spec spec = Spec::load(shardlab_schema(), "", {"agent.channels=4,8,8", "agent.hidden=32",
                                                              "env.distribution=easy"});
  ObservationSpec obs;
  obs.shape = {3, 15, 15};
  ActionSpec act;
  act.num_actions = 15;
  at::Generator init = at::detail::createCPUGenerator(1);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  at::Generator gen = at::detail::createCPUGenerator(9);
  int64_t update = 7;
  std::vector<double> stats = {1.5, 2.5};
  Checkpoint parts;
  parts.add("model", *net);
  parts.add("optimizer", adam);
  parts.add("generator_state", gen);
  parts.add("update", update);
  parts.add("stats", stats);
  parts.save(dir + "/c.pt", spec.to_ini());

  // Every part comes back into fresh objects.
  at::Generator init2 = at::detail::createCPUGenerator(2);
  ActorCritic other(NetworkConfig::from_spec(spec), obs, act, init2);
  torch::optim::Adam adam2(other->parameters(), torch::optim::AdamOptions(1e-3));
  at::Generator gen2 = at::detail::createCPUGenerator(0);
  int64_t update2 = 0;
  std::vector<double> stats2;
  Checkpoint back;
  back.add("model", *other);
  back.add("optimizer", adam2);
  back.add("generator_state", gen2);
  back.add("update", update2);
  back.add("stats", stats2);
  back.load(dir + "/c.pt");
  EXPECT_EQ(update2, 7);
  EXPECT_EQ(stats2, stats);
  EXPECT_TRUE(torch::equal(gen.get_state(), gen2.get_state()));
  // A part the file lacks is an error unless optional.
  double absent = 4.0;
  Checkpoint missing;
  missing.add("absent", absent, /*optional=*/true);
  missing.load(dir + "/c.pt");
  EXPECT_EQ(absent, 4.0);
  Checkpoint required;
  required.add("absent", absent);
  EXPECT_THROW(required.load(dir + "/c.pt"), FileError);

  LoadedPolicy loaded = load_policy(dir + "/c.pt", shardlab_schema());
  const at::Tensor x = torch::rand({3, 3, 15, 15});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(net->forward(x).logits_or_mean, loaded.net->forward(x).logits_or_mean));

  std::ofstream(dir + "/text.pt") << "not a checkpoint";
  EXPECT_THROW(load_policy(dir + "/text.pt", shardlab_schema()), FileError);
  EXPECT_THROW(load_policy(dir + "/absent.pt", shardlab_schema()), FileError);
  EXPECT_THROW(resolve_checkpoint(dir), FileError);  // a folder without checkpoints/
}

}  // namespace
}  // namespace shardlab
