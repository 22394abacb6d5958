// Episodes of a policy as pictures. `shardlab render` (PNG frames, GIF, MP4) and training's
// videos (run.video_every: DIR/<name>/videos/update_NNNNNNN.gif) play them the same way, so the
// video a run recorded at update N is what `render --run` draws of update N's checkpoint.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/experience.h"
#include "envs/collection.h"
#include "envs/env.h"

namespace shardlab {

class Env;
class ScriptedPolicy;
class Spec;
class SpecSchema;
struct LoadedPolicy;

// run.video_every: training's videos of its own policy.
struct VideoConfig {
  int64_t every = 0;  // updates between videos (0: none)

  // Binds each key to its field (core/spec.h: declare_keys_of, read_keys).
  template <class Keys>
  void bind(Keys& keys);
  static void declare_keys(SpecSchema& schema);
  static VideoConfig from_spec(const Spec& spec);
};

// Training videos: frames per second, and the folder under the run folder.
constexpr int64_t kTrainingVideoFps = 20;
constexpr const char* kTrainingVideoFolder = "videos";

using FrameSink = std::function<void(const Frame&)>;

// A policy playing episodes of its spec's environment for pictures, on an environment and a
// random stream of its own: environment 0 of run.seed (the level training's first environment
// starts on), actions from the stream (run.seed, kPolicyStream). Nothing it does touches a
// training run's environments or generators.
class EpisodePlayer {
 public:
  // A trained policy (which must outlive the player): sampled, or its mode when `greedy`.
  EpisodePlayer(const Spec& spec, const LoadedPolicy& policy, bool greedy);
  // A policy that needs no training: "random", or "heuristic" where the environment has one.
  EpisodePlayer(const Spec& spec, const std::string& scripted);
  EpisodePlayer(const EpisodePlayer&) = delete;  // the policy holds the generator's address
  EpisodePlayer& operator=(const EpisodePlayer&) = delete;
  ~EpisodePlayer();

  // Plays the next episode to its end (the environment's time limit, env.max_episode_steps, caps
  // its length), giving `sink` its first frame, every `every`-th step's and its last.
  EpisodeStats play(const FrameSink& sink, int64_t every = 1);

 private:
  std::unique_ptr<Env> env_;
  at::Generator gen_;
  std::unique_ptr<ScriptedPolicy> scripted_;
  BehaviourPolicy policy_;
  int64_t episodes_ = 0;
};

// Training's video at `update`: one episode of `policy` (sampled actions, every step drawn) to
// RUN_FOLDER/videos/update_NNNNNNN.gif, replacing the one a killed session may have left.
// Returns the file's path.
std::string record_training_video(const Spec& spec, const LoadedPolicy& policy, const std::string& run_folder,
                                  int64_t update);

}  // namespace shardlab
