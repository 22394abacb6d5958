// `shardlab analyze pushes`: each channel's push toward the cheese or the top-right path at the
// decision square, under zero, mean and resample ablations, with Holm-corrected tests and the
// same analysis on the untrained network beside it (analysis/pushes.h).
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "agents/run_dir.h"
#include "analysis/channels.h"
#include "analysis/pushes.h"
#include "analysis/study.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "envs/registry.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

namespace {

// Shuffles of the shuffled-channel null: its 95th percentile of surviving channels is then
// resolved to about a count.
constexpr int64_t kChannelShuffles = 200;

// A checkpoint file removed when it goes out of scope.
struct TemporaryFile {
  std::string path;
  ~TemporaryFile() {
    std::error_code ignored;
    fs::remove(path, ignored);
  }
};

// The same architecture at its initialisation: the run's step-0 milestone when RUN is a run folder
// (or a checkpoint in one) that kept it (run.milestone_every > 0 saves it before the first
// update); otherwise the network the trainer builds before its first update, from a generator
// seeded with run.seed (agents/trainer.cpp).
UntrainedNull untrained_network(const Study& s, const SpecSchema& schema, std::optional<MazePolicy>* policy) {
  UntrainedNull null;
  const std::string run = s.str("run");
  // A checkpoint file belongs to a run folder when it sits in the folder's checkpoints/ or milestones/.
  const fs::path parent = fs::path(run).parent_path();
  const bool in_run = fs::is_directory(run) || parent.filename() == "checkpoints" || parent.filename() == "milestones";
  const std::string milestone =
      RunDir::existing(fs::is_directory(run) ? run : parent.parent_path().string()).milestone_path(0);
  if (in_run && fs::is_regular_file(milestone)) {
    null.source = "milestone_step_0";
    null.checkpoint = milestone;
    policy->emplace(MazePolicy::load(milestone, schema, s.overrides));
    return null;
  }
  null.source = "fresh_init_run_seed";
  const Spec& spec = s.p().spec();
  null.init_seed = static_cast<uint64_t>(spec.get_int("run.seed"));
  at::Generator init = at::detail::createCPUGenerator(null.init_seed);
  const auto env = make_env(spec, 0);
  ActorCritic net(NetworkConfig::from_spec(spec), env->observation_spec(), env->action_spec(), init);
  // MazePolicy loads from a file: the fresh network passes through one that is removed at once.
  const TemporaryFile file{
      (fs::temp_directory_path() / ("shardlab-pushes-init-" + std::to_string(::getpid()) + ".pt")).string()};
  save_policy(file.path, *net, spec);
  policy->emplace(MazePolicy::load(file.path, schema, s.overrides));
  return null;
}

}  // namespace

int pushes_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  StudyFlags f(
      "shardlab analyze pushes RUN --seeds A:B [--layer L] [--ablation zero|mean|resample|all] [--alpha A]\n"
      "    [--seed N] [--out DIR]\n"
      "  A channel's push in a maze with a decision square: the gap log P(cheese move) - log P(top-right move)\n"
      "  minus the gap with that channel alone ablated (zero; mean: its mean map over the mazes; resample: its\n"
      "  map in the next maze of an order drawn with --seed). Per channel and ablation a two-sided one-sample\n"
      "  t test of mean push = 0, Holm-corrected over every (channel, ablation) test; a channel pushes for the\n"
      "  cheese (corner) when its adjusted p < --alpha and its mean push is positive (negative). The same on\n"
      "  the untrained network (the run's milestones/step_0 checkpoint, else a fresh init seeded with run.seed)\n"
      "  and with the channels shuffled within each maze (200 shuffles), as nulls");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (at least 2 with a decision square)")(
      "layer", po::value<std::string>(),
      (std::string("layer whose channels are ablated (default ") + kDefaultLayer + ")").c_str())(
      "ablation", po::value<std::string>()->default_value("all"), "zero, mean, resample or all")(
      "alpha", po::value<double>()->default_value(0.05, "0.05"), "family-wise level of the Holm-corrected tests")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the resample order and the channel shuffles")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, "pushes", args, f, true);
  if (!s) return 0;
  const std::vector<Ablation> ablations = parse_ablations(s->str("ablation"));
  PushReport r;
  r.alpha = s->vm["alpha"].as<double>();
  if (!(r.alpha > 0 && r.alpha < 1)) throw InputError("--alpha: expected a number in (0, 1)");
  r.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  r.shuffles = kChannelShuffles;
  const std::string layer = layer_of(*s);
  s->claim({"pushes.csv", "pushes.json", "pushes.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  r.trained = measure_pushes(s->p(), layer, levels, ablations, r.seed);
  counts.used = r.trained.mazes;
  counts.other_left_out.push_back({"without_decision_square", r.trained.left_out});
  {
    std::optional<MazePolicy> untrained;
    r.null = untrained_network(*s, schema, &untrained);
    r.null.study = measure_pushes(*untrained, layer, levels, ablations, r.seed);
  }
  // The cheese-tracking ranking of `analyze channels` on the same mazes, for a spatial layer.
  if (s->p().layer_shape(layer).size() == 3) {
    const auto scores = rank_cheese_channels(s->p(), layer, levels);
    r.tracking_rank.assign(scores.size(), 0);
    for (size_t i = 0; i < scores.size(); ++i) {
      r.tracking_order.push_back(scores[i].channel);
      r.tracking_rank[scores[i].channel] = static_cast<int64_t>(i + 1);
    }
  }
  write_file((fs::path(s->out_dir) / "pushes.csv").string(), pushes_csv(r));
  write_file((fs::path(s->out_dir) / "pushes.svg").string(), pushes_svg(r));
  const std::string json = pushes_json(s->p(), s->str("seeds"), r, counts);
  write_file((fs::path(s->out_dir) / "pushes.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace shardlab::analysis
