// A GIF file decoded with giflib for the tests, closed on scope exit.
#pragma once

#include <gif_lib.h>

#include <array>
#include <stdexcept>
#include <string>

namespace shardlab::test {

struct DecodedGif {
  // Throws when giflib cannot open or decode `path` (the test fails with its message).
  explicit DecodedGif(const std::string& path) {
    int error = 0;
    gif = DGifOpenFileName(path.c_str(), &error);
    if (!gif) throw std::runtime_error(path + ": " + GifErrorString(error));
    if (DGifSlurp(gif) == GIF_ERROR) {
      const std::string message = path + ": " + GifErrorString(gif->Error);
      DGifCloseFile(gif, nullptr);
      throw std::runtime_error(message);
    }
  }
  ~DecodedGif() { DGifCloseFile(gif, nullptr); }
  DecodedGif(const DecodedGif&) = delete;
  DecodedGif& operator=(const DecodedGif&) = delete;

  int frames() const { return gif->ImageCount; }
  // The RGB colour of pixel (x, y) of frame `i`.
  std::array<int, 3> pixel(int i, int x, int y) const {
    const SavedImage& image = gif->SavedImages[i];
    const ColorMapObject* map = image.ImageDesc.ColorMap ? image.ImageDesc.ColorMap : gif->SColorMap;
    const GifColorType c = map->Colors[image.RasterBits[y * image.ImageDesc.Width + x]];
    return {c.Red, c.Green, c.Blue};
  }

  GifFileType* gif = nullptr;
};

}  // namespace shardlab::test
