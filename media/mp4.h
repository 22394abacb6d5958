// MP4 videos of episodes (`shardlab render --out FILE.mp4`) through ffmpeg's libraries
// (libavformat, libavcodec, libswscale; built only when CMake finds them: SHARDLAB_HAVE_FFMPEG).
// H.264 through libx264 when libavcodec has it, else MPEG-4 part 2 (libavcodec's own encoder, in
// every build of it); yuv420p at a constant frame rate. Use open_video() (media/video.h) rather
// than this class: it picks the format by the path's extension.
//
// yuv420p stores colour for 2 x 2 blocks of pixels, so both sides must be even: a frame with an
// odd side loses its last column or row (the maze's 375 x 375 becomes 374 x 374). Cropping one
// pixel rather than padding one keeps every stored pixel a drawn one, without an invented border.
#pragma once

#include <memory>
#include <string>

#include "media/video.h"

namespace shardlab {

class Mp4Writer : public VideoWriter {
 public:
  // Starts `path` (through AtomicFile: nothing appears under that name before finish()) for frames
  // of width x height at `fps` frames per second. InputError for a side under 2 or over 16384 or
  // fps outside 1..1000; FileError (with libav's reason) if the file or the encoder cannot be opened.
  Mp4Writer(const std::string& path, int width, int height, int fps);
  ~Mp4Writer() override;

  void add_frame(const float* chw) override;
  void finish(bool replace = true) override;

  // The encoder in use: "libx264" or "mpeg4".
  const std::string& codec() const;
  // The stored size: width() and height() rounded down to even.
  int stored_width() const { return width_ & ~1; }
  int stored_height() const { return height_ & ~1; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace shardlab
