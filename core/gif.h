// Animated GIFs for videos of episodes (`shardlab render --out FILE.gif`), through giflib.
// Palettes: a frame of at most 256 colours (the flat-coloured maze always) keeps them exactly, in
// a palette of its own; a frame of more goes to a fixed 6 x 7 x 6 palette (252 colours: 6 levels
// of red and blue, 7 of green, to which the eye is most sensitive), each pixel to its nearest
// level, without dithering (which would only speckle the flat areas these pictures mostly are, and
// compress worse). The animation loops forever.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace shardlab {

class AtomicFile;

class GifWriter {
 public:
  // Starts `path` (through AtomicFile: nothing appears under that name before finish()) for frames
  // of width x height shown `delay_cs` hundredths of a second each. FileError if it cannot be
  // written, InputError for a size GIF cannot hold (1..65535) or a delay outside 1..65535.
  GifWriter(const std::string& path, int width, int height, int delay_cs);
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;
  ~GifWriter();  // without finish(): no file

  // Appends a frame given channel-major (3, height, width) floats in [0, 1] (clamped).
  void add_frame(const float* chw);
  // Completes the file and renames it onto `path` (`replace`: as AtomicFile::commit).
  void finish(bool replace = true);

  int width() const { return width_; }
  int height() const { return height_; }
  int64_t frames() const { return frames_; }

 private:
  struct State;
  std::unique_ptr<State> state_;
  int width_, height_, delay_cs_;
  int64_t frames_ = 0;
};

}  // namespace shardlab
