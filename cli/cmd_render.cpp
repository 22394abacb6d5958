// `shardlab render`: episodes of any environment under a policy (scripted, or a trained run's,
// online or offline), as numbered PNG frames in a folder or as a video (animated GIF, or MP4 where
// ffmpeg's libraries were built in: media/video.h). The episodes are played by agents/video.h.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "agents/run_dir.h"
#include "agents/video.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "envs/env.h"
#include "envs/registry.h"
#include "media/png.h"
#include "media/video.h"

namespace shardlab::cli {
namespace {

std::string frame_path(const std::string& dir, int64_t frame) {
  char name[32];
  std::snprintf(name, sizeof name, "frame_%05lld.png", static_cast<long long>(frame));
  return (std::filesystem::path(dir) / name).string();
}

// Where the frames go: numbered PNGs in a folder, or one video (opened at the first frame, whose
// size it takes).
class RenderSink {
 public:
  RenderSink(std::string out, int64_t fps) : out_(std::move(out)), fps_(fps) {}
  bool video() const { return video_format(out_).has_value(); }
  void add(const Frame& frame) {
    if (frames_ == 0) width_ = frame.width, height_ = frame.height;
    if (frame.width != width_ || frame.height != height_)
      throw Error("render: frame " + std::to_string(frames_) + " is " + std::to_string(frame.width) + " x " +
                  std::to_string(frame.height) + ", the first was " + std::to_string(width_) + " x " +
                  std::to_string(height_));
    if (!video()) {
      // Each frame under a temporary name until every frame is drawn and their names are claimed.
      pending_.push_back(std::make_unique<AtomicFile>(frame_path(out_, frames_)));
      pending_.back()->write(png_bytes(frame.chw.data(), frame.height, frame.width));
    } else {
      if (!writer_) writer_ = open_video(out_, frame.width, frame.height, fps_);
      writer_->add_frame(frame.chw.data());
    }
    ++frames_;
  }
  // The video, or every frame: all of their names claimed first (kept unless --force, never a
  // symlink or anything else but a regular file), with the frames of an earlier, longer render in
  // the folder, which --force removes. Nothing in the folder changes unless every name is free.
  void finish(bool force) {
    if (writer_) writer_->finish(force);
    if (video()) return;
    std::vector<std::string> paths;
    for (const auto& file : pending_) paths.push_back(file->path());
    claim_outputs(paths, force);
    std::vector<std::string> stale;
    for (int64_t frame = frames_; std::filesystem::exists(std::filesystem::symlink_status(frame_path(out_, frame)));
         ++frame)
      stale.push_back(frame_path(out_, frame));
    for (const std::string& path : stale) check_replaceable(path);
    for (const auto& file : pending_) file->commit();
    pending_.clear();
    for (const std::string& path : stale) std::filesystem::remove(path);
    if (!stale.empty())
      std::cerr << "render: removed " << stale.size() << " frames of an earlier render in " << out_ << "\n";
  }
  int64_t frames() const { return frames_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  std::string out_;
  int64_t fps_;
  std::unique_ptr<VideoWriter> writer_;
  std::vector<std::unique_ptr<AtomicFile>> pending_;  // frames drawn, not yet under their names
  int64_t frames_ = 0;
  int width_ = 0, height_ = 0;
};

void add_render_flags(po::options_description& flags) {
  flags.add_options()("help,h", "show this help")("policy", po::value<std::string>()->default_value("random"),
                                                  "random, or heuristic (lunar landers)")(
      "run", po::value<std::string>(),
      "a trained policy (run folder or checkpoint: online or offline) in its own environment")(
      "greedy", "with --run: act with the policy's mode instead of sampling")(
      "seed", po::value<int64_t>(), "run.seed: the episodes drawn (default: the spec's)")(
      "episodes", po::value<int64_t>()->default_value(1), "episodes, one after the other")(
      "out", po::value<std::string>(),
      "FILE.gif: an animated GIF (looping); FILE.mp4: an H.264 MP4 (where built with ffmpeg); otherwise a folder for "
      "frame_00000.png, frame_00001.png, ... (required)")("every", po::value<int64_t>()->default_value(1),
                                                          "draw every K-th step (and each episode's first and last)")(
      "fps", po::value<int64_t>()->default_value(20), "video frames per second (GIF: at most 100)")(
      "force", "overwrite the video or the frames already in the folder");
}

// A video --out: its format built in, and --fps within what the format can hold.
void check_video_flags(const std::string& out, int64_t fps) {
  const auto format = video_format(out);
  if (!format) return;
  if (*format == VideoFormat::kMp4 && !mp4_available())
    throw InputError("shardlab render: --out " + out + ": MP4 is not built in (no ffmpeg libraries); use FILE.gif");
  if (fps > max_video_fps(*format))
    throw InputError("--fps " + std::to_string(fps) + ": expected at most " + std::to_string(max_video_fps(*format)) +
                     (*format == VideoFormat::kGif ? " (GIF delays are in 1/100 s)" : ""));
}

// The policy and the spec of its environment: a trained policy brings its own spec.
Spec policy_spec(const po::variables_map& vm, std::optional<LoadedPolicy>& trained) {
  Spec spec(shardlab_schema());
  if (vm.count("run")) {
    if (vm.count("env")) throw InputError("shardlab render: --env goes with --policy; a run brings its environment");
    const std::string path = resolve_checkpoint(vm["run"].as<std::string>());
    trained = load_policy(path, shardlab_schema());
    std::vector<std::string> overrides;
    if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
    check_policy_overrides(overrides, "render --set");
    spec = Spec::from_text(shardlab_schema(), trained->spec_ini, path + " (spec)", overrides);
  } else {
    if (vm.count("greedy")) throw InputError("shardlab render: --greedy goes with --run");
    spec = load_spec(vm);
  }
  if (vm.count("seed")) spec.set("run.seed", std::to_string(flag_at_least(vm, "seed", 0)), "--seed");
  return spec;
}

// Frames already there: refused now without --force, or when one is not a regular file.
void prepare_frame_folder(const std::string& out, bool force) {
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec))
    for (const auto& entry : std::filesystem::directory_iterator(out, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("frame_", 0) != 0 || entry.path().extension() != ".png" || name.find(".tmp.") != std::string::npos)
        continue;
      if (!force)
        throw InputError("shardlab render: " + out + " already holds frames (" + name +
                         "); pass --force to overwrite them");
      check_replaceable(entry.path().string());
    }
  std::filesystem::create_directories(out, ec);
  if (ec) throw FileError("cannot create " + out + ": " + ec.message());
}

// One line per episode: its return, its length and its outcome (the metric that is set, if any).
void print_episode(int64_t episode, const EpisodeStats& stats) {
  std::string outcome;
  for (const auto& [metric, value] : stats.metrics)
    if (value > 0.5 && metric.find('/') != std::string::npos) outcome = metric.substr(metric.find('/') + 1);
  std::cout << "episode " << episode + 1 << ": return " << stats.episode_return << ", length " << stats.length
            << (outcome.empty() ? "" : ", " + outcome) << "\n";
}

}  // namespace

int cmd_render(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab render --env NAME --policy random|heuristic [--seed S] --out DIR|FILE.gif|FILE.mp4 [flags]\n"
      "shardlab render --run RUN_DIR|CHECKPOINT [--greedy] [--seed S] --out DIR|FILE.gif|FILE.mp4 [flags]");
  add_render_flags(flags);
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("render", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("out")) throw InputError("shardlab render: --out DIR, FILE.gif or FILE.mp4 is required");
  const std::string out = vm["out"].as<std::string>();
  const int64_t every = flag_at_least(vm, "every", 1);
  const int64_t episodes = flag_at_least(vm, "episodes", 1);
  const int64_t fps = flag_at_least(vm, "fps", 1);
  check_video_flags(out, fps);
  const bool force = vm.count("force") > 0;
  std::optional<LoadedPolicy> trained;
  const Spec spec = policy_spec(vm, trained);
  const std::string env_name = spec.get_string("env.name");
  const bool greedy = vm.count("greedy") > 0;
  const std::string scripted = vm["policy"].as<std::string>();
  EpisodePlayer player = trained ? EpisodePlayer(spec, *trained, greedy) : EpisodePlayer(spec, scripted);
  const std::string policy_name = trained ? trained->path + (greedy ? " (greedy)" : " (sampled)") : scripted;

  RenderSink sink(out, fps);
  if (sink.video())
    claim_outputs({out}, force);
  else
    prepare_frame_folder(out, force);

  for (int64_t episode = 0; episode < episodes; ++episode)
    print_episode(episode, player.play([&sink](const Frame& frame) { sink.add(frame); }, every));
  sink.finish(force);
  std::cout << "wrote " << sink.frames() << " frames of " << sink.width() << " x " << sink.height() << " to " << out
            << " (" << env_name << ", seed " << spec.get_int("run.seed") << ", " << episodes << " episode"
            << (episodes == 1 ? "" : "s") << ", policy " << policy_name << ")\n";
  return 0;
}

}  // namespace shardlab::cli
