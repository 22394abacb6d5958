// Videos of episodes, one interface over the formats a path's extension names: an animated GIF
// (media/gif.h, giflib, always built) or an MP4 (media/mp4.h, ffmpeg's libraries, built when CMake
// finds them: SHARDLAB_HAVE_FFMPEG). `shardlab render --out FILE.gif|FILE.mp4` and training's
// run.video_every videos both write through it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace shardlab {

class VideoWriter {
 public:
  virtual ~VideoWriter() = default;  // without finish(): no file, the temporary removed
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Appends a frame given channel-major (3, height, width) floats in [0, 1] (clamped).
  virtual void add_frame(const float* chw) = 0;
  // Completes the file and renames it onto its path (`replace`: as AtomicFile::commit).
  virtual void finish(bool replace = true) = 0;

  // The frames' size as given (a format may store a pixel less: see media/mp4.h).
  int width() const { return width_; }
  int height() const { return height_; }
  int64_t frames() const { return frames_; }

 protected:
  VideoWriter(int width, int height) : width_(width), height_(height) {}
  int width_, height_;
  int64_t frames_ = 0;
};

// A frame's [0, 1] intensity as the byte every format stores (clamped, rounded).
inline uint8_t frame_byte(float v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); }

enum class VideoFormat { kGif, kMp4 };

// The format `path` names by its extension (.gif, .mp4), or none.
std::optional<VideoFormat> video_format(const std::string& path);
// Whether this build writes MP4 (ffmpeg's libraries were found).
bool mp4_available();
// The highest frame rate a format stores (GIF: 100, its delays are whole hundredths of a second).
int64_t max_video_fps(VideoFormat format);
// The checks open_video() makes before any frame exists, so a command can refuse its flags before
// its work: InputError for a path that names no video format, MP4 in a build without ffmpeg, or
// `fps` outside the format's range (GIF: 1..100, its delays are in 1/100 s; MP4: 1..1000).
void check_video_path(const std::string& path, int64_t fps);
// A writer for frames of width x height at `fps` frames per second, in the format of `path`'s
// extension, through AtomicFile (nothing appears under `path` before finish()).
std::unique_ptr<VideoWriter> open_video(const std::string& path, int width, int height, int64_t fps);

}  // namespace shardlab
