// Animated GIFs for videos of episodes (`shardlab render --out FILE.gif`, training's videos), through giflib.
// Palettes: a frame of at most 256 colours (the flat-coloured maze always) keeps them exactly, in
// a palette of its own; a frame of more goes to a fixed 6 x 7 x 6 palette (252 colours: 6 levels
// of red and blue, 7 of green, to which the eye is most sensitive), each pixel to its nearest
// level, without dithering (which would only speckle the flat areas these pictures mostly are, and
// compress worse). The animation loops forever.
#pragma once

#include <memory>
#include <string>

#include "media/video.h"

namespace shardlab {

class GifWriter : public VideoWriter {
 public:
  // Starts `path` (through AtomicFile: nothing appears under that name before finish()) for frames
  // of width x height shown `delay_cs` hundredths of a second each. FileError if it cannot be
  // written, InputError for a size GIF cannot hold (1..65535) or a delay outside 1..65535.
  GifWriter(const std::string& path, int width, int height, int delay_cs);
  ~GifWriter() override;

  void add_frame(const float* chw) override;
  void finish(bool replace = true) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
  int delay_cs_;
};

}  // namespace shardlab
