#include "media/gif.h"

#include <fcntl.h>
#include <gif_lib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"

namespace shardlab {
namespace {

constexpr int kRedLevels = 6, kGreenLevels = 7, kBlueLevels = 6;
constexpr int kPaletteSize = 256;  // GIF palettes have a power-of-two size; the last 4 stay black

// The palette level of each 8-bit intensity, for `levels` evenly spaced levels.
std::array<uint8_t, 256> level_table(int levels) {
  std::array<uint8_t, 256> table;
  for (int v = 0; v < 256; ++v) table[v] = static_cast<uint8_t>(std::lround(v * (levels - 1) / 255.0));
  return table;
}

}  // namespace

struct GifWriter::State {
  explicit State(const std::string& path) : file(path) {}
  ~State() { close(); }  // before `file` removes the temporary (no finish(), or a failed constructor)
  AtomicFile file;
  GifFileType* gif = nullptr;
  std::vector<GifPixelType> pixels;  // of the frame being written

  // FileError naming the file and giflib's reason for the last failed call.
  [[noreturn]] void fail(const char* what) const {
    throw FileError(file.path() + ": cannot write GIF (" + what + ": " + GifErrorString(gif->Error) + ")");
  }
  void close() {
    if (gif) EGifCloseFile(gif, nullptr);
    gif = nullptr;
  }
};

GifWriter::GifWriter(const std::string& path, int width, int height, int delay_cs)
    : VideoWriter(width, height), delay_cs_(delay_cs) {
  if (width < 1 || width > 65535 || height < 1 || height > 65535)
    throw InputError(path + ": a GIF frame is 1 to 65535 pixels a side, not " + std::to_string(width) + " x " +
                     std::to_string(height));
  if (delay_cs < 1 || delay_cs > 65535)
    throw InputError(path + ": a GIF frame delay is 1 to 65535 hundredths of a second, not " +
                     std::to_string(delay_cs));
  state_ = std::make_unique<State>(path);
  // Opened here rather than by EGifOpenFileName, which would make the file readable by its owner only.
  const int fd = ::open(state_->file.temporary_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd < 0) throw FileError(path + ": cannot write GIF: " + std::strerror(errno));
  int error = 0;
  state_->gif = EGifOpenFileHandle(fd, &error);  // owns fd once it succeeds
  if (!state_->gif) {
    ::close(fd);
    throw FileError(path + ": cannot write GIF (" + GifErrorString(error) + ")");
  }
  std::vector<GifColorType> colors(kPaletteSize, GifColorType{0, 0, 0});
  for (int r = 0; r < kRedLevels; ++r)
    for (int g = 0; g < kGreenLevels; ++g)
      for (int b = 0; b < kBlueLevels; ++b)
        colors[(r * kGreenLevels + g) * kBlueLevels + b] = {static_cast<GifByteType>(r * 255 / (kRedLevels - 1)),
                                                            static_cast<GifByteType>(g * 255 / (kGreenLevels - 1)),
                                                            static_cast<GifByteType>(b * 255 / (kBlueLevels - 1))};
  ColorMapObject* palette = GifMakeMapObject(kPaletteSize, colors.data());
  if (!palette) throw FileError(path + ": cannot write GIF (out of memory for its palette)");
  EGifSetGifVersion(state_->gif, true);  // GIF89a: frame delays and looping are 89a extensions
  const int screen = EGifPutScreenDesc(state_->gif, width, height, 8, 0, palette);
  GifFreeMapObject(palette);
  if (screen == GIF_ERROR) state_->fail("screen descriptor");
  // Netscape's application extension: loop count 0, forever.
  const GifByteType loop[3] = {1, 0, 0};
  if (EGifPutExtensionLeader(state_->gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
      EGifPutExtensionBlock(state_->gif, 11, "NETSCAPE2.0") == GIF_ERROR ||
      EGifPutExtensionBlock(state_->gif, 3, loop) == GIF_ERROR || EGifPutExtensionTrailer(state_->gif) == GIF_ERROR)
    state_->fail("loop extension");
}

GifWriter::~GifWriter() = default;

void GifWriter::add_frame(const float* chw) {
  if (!state_ || !state_->gif) throw Error("GifWriter: frame added after finish()");
  static const std::array<uint8_t, 256> red = level_table(kRedLevels), green = level_table(kGreenLevels),
                                        blue = level_table(kBlueLevels);
  const size_t plane = static_cast<size_t>(width_) * height_;
  std::vector<GifPixelType>& pixels = state_->pixels;
  pixels.resize(plane);
  // The frame's own colours, exactly, while there are at most 256 of them.
  std::unordered_map<uint32_t, GifPixelType> index;
  std::vector<GifColorType> colors;
  bool exact = true;
  for (size_t p = 0; p < plane && exact; ++p) {
    const GifColorType c = {frame_byte(chw[p]), frame_byte(chw[plane + p]), frame_byte(chw[2 * plane + p])};
    const uint32_t rgb = static_cast<uint32_t>(c.Red) << 16 | c.Green << 8 | c.Blue;
    const auto [it, added] = index.try_emplace(rgb, static_cast<GifPixelType>(colors.size()));
    if (added) {
      exact = colors.size() < kPaletteSize;
      colors.push_back(c);
    }
    pixels[p] = it->second;
  }
  if (!exact)
    for (size_t p = 0; p < plane; ++p)
      pixels[p] = static_cast<GifPixelType>(
          (red[frame_byte(chw[p])] * kGreenLevels + green[frame_byte(chw[plane + p])]) * kBlueLevels +
          blue[frame_byte(chw[2 * plane + p])]);
  ColorMapObject* local = nullptr;  // none: the fixed palette
  if (exact) {
    int size = 2;
    while (size < static_cast<int>(colors.size())) size *= 2;
    colors.resize(size, GifColorType{0, 0, 0});
    local = GifMakeMapObject(size, colors.data());
    if (!local) throw FileError(state_->file.path() + ": cannot write GIF (out of memory for a palette)");
  }

  GraphicsControlBlock control{};
  control.DisposalMode = DISPOSE_DO_NOT;
  control.DelayTime = delay_cs_;
  control.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType extension[4];
  const size_t length = EGifGCBToExtension(&control, extension);
  const bool described =
      EGifPutExtension(state_->gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(length), extension) != GIF_ERROR &&
      EGifPutImageDesc(state_->gif, 0, 0, width_, height_, false, local) != GIF_ERROR;
  if (local) GifFreeMapObject(local);
  if (!described) state_->fail("frame header");
  for (int y = 0; y < height_; ++y)
    if (EGifPutLine(state_->gif, pixels.data() + static_cast<size_t>(y) * width_, width_) == GIF_ERROR)
      state_->fail("pixels");
  ++frames_;
}

void GifWriter::finish(bool replace) {
  if (!state_ || !state_->gif) throw Error("GifWriter: finish() called twice");
  int error = 0;
  const int closed = EGifCloseFile(state_->gif, &error);
  state_->gif = nullptr;
  if (closed == GIF_ERROR) throw FileError(state_->file.path() + ": cannot write GIF (" + GifErrorString(error) + ")");
  state_->file.commit(replace);
}

}  // namespace shardlab
