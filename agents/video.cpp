#include "agents/video.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/scripted_policy.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/spec.h"
#include "envs/registry.h"
#include "media/video.h"

namespace shardlab {
namespace {

// The policy's random stream, apart from the environments' (and from training's streams).
constexpr uint64_t kPolicyStream = 1ULL << 40;

uint64_t policy_seed(const Spec& spec) {
  return mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kPolicyStream);
}

}  // namespace

template <class Keys>
void VideoConfig::bind(Keys& keys) {
  keys("run.video_every", every,
       "updates between videos of the policy (videos/update_NNNNNNN.gif: one episode, sampled actions, the same "
       "level and seed each time); 0 = none")
      .at_least(0);
}

void VideoConfig::declare_keys(SpecSchema& s) { declare_keys_of<VideoConfig>(s); }

VideoConfig VideoConfig::from_spec(const Spec& spec) { return read_keys<VideoConfig>(spec); }

EpisodePlayer::EpisodePlayer(const Spec& spec, const LoadedPolicy& policy, bool greedy)
    : env_(make_env(spec, 0)), gen_(at::detail::createCPUGenerator(policy_seed(spec))) {
  policy_ = policy_behaviour(policy, gen_, greedy);
}

EpisodePlayer::EpisodePlayer(const Spec& spec, const std::string& scripted)
    : env_(make_env(spec, 0)), gen_(at::detail::createCPUGenerator(policy_seed(spec))) {
  scripted_ = std::make_unique<ScriptedPolicy>(scripted, find_env(spec.get_string("env.name")), env_->action_spec(),
                                               policy_seed(spec));
  policy_ = scripted_->behaviour(env_->observation_spec().size());
}

EpisodePlayer::~EpisodePlayer() = default;

EpisodeStats EpisodePlayer::play(const FrameSink& sink, int64_t every) {
  if (every < 1) throw InputError("draw every " + std::to_string(every) + " steps: expected at least 1");
  if (episodes_++ > 0) env_->reset();  // a new environment starts ready, as if just reset
  const ActionSpec act = env_->action_spec();
  std::vector<float> obs(env_->observation_spec().size());
  std::vector<float> continuous(std::max<int64_t>(1, act.dim));
  sink(env_->draw());
  for (int64_t t = 1;; ++t) {
    env_->write_observation(obs.data());
    Action a;
    policy_(obs.data(), 1, &a.index, continuous.data());
    if (!act.discrete) a.values = continuous.data();
    const bool done = env_->step(a).done();
    if (done || t % every == 0) sink(env_->draw());
    if (done) break;
  }
  return env_->episode_stats();
}

std::string record_training_video(const Spec& spec, const LoadedPolicy& policy, const std::string& run_folder,
                                  int64_t update) {
  const std::filesystem::path folder = std::filesystem::path(run_folder) / kTrainingVideoFolder;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw FileError("cannot create " + folder.string() + ": " + ec.message());
  char name[32];
  std::snprintf(name, sizeof name, "update_%07lld.gif", static_cast<long long>(update));
  const std::string path = (folder / name).string();
  std::unique_ptr<VideoWriter> video;
  EpisodePlayer player(spec, policy, /*greedy=*/false);
  player.play([&](const Frame& frame) {
    if (!video) video = open_video(path, frame.width, frame.height, kTrainingVideoFps);
    video->add_frame(frame.chw.data());
  });
  video->finish(/*replace=*/true);
  return path;
}

}  // namespace shardlab
