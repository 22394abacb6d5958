#include "media/video.h"

#include <cctype>

#include "core/error.h"
#include "core/text.h"
#include "media/gif.h"
#ifdef SHARDLAB_HAVE_FFMPEG
#include "media/mp4.h"
#endif

namespace shardlab {
namespace {

constexpr int64_t kMaxGifFps = 100;  // GIF delays are whole hundredths of a second
constexpr int64_t kMaxMp4Fps = 1000;

}  // namespace

std::optional<VideoFormat> video_format(const std::string& path) {
  std::string lower = path.substr(path.size() >= 4 ? path.size() - 4 : 0);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == ".gif") return VideoFormat::kGif;  // a.GIF too: never a folder of PNGs by a letter's case
  if (lower == ".mp4") return VideoFormat::kMp4;
  return std::nullopt;
}

bool mp4_available() {
#ifdef SHARDLAB_HAVE_FFMPEG
  return true;
#else
  return false;
#endif
}

int64_t max_video_fps(VideoFormat format) { return format == VideoFormat::kGif ? kMaxGifFps : kMaxMp4Fps; }

void check_video_path(const std::string& path, int64_t fps) {
  const std::optional<VideoFormat> format = video_format(path);
  if (!format) throw InputError(path + ": a video is FILE.gif or FILE.mp4");
  if (*format == VideoFormat::kMp4 && !mp4_available())
    throw InputError(path + ": MP4 is not built in (no ffmpeg libraries); use FILE.gif");
  const int64_t most = max_video_fps(*format);
  if (fps < 1 || fps > most)
    throw InputError(path + ": " + std::to_string(fps) + " frames/s; expected 1 to " + std::to_string(most) +
                     (*format == VideoFormat::kGif ? " (GIF delays are in 1/100 s)" : ""));
}

std::unique_ptr<VideoWriter> open_video(const std::string& path, int width, int height, int64_t fps) {
  check_video_path(path, fps);
  if (*video_format(path) == VideoFormat::kGif)
    return std::make_unique<GifWriter>(path, width, height, static_cast<int>(100 / fps));
#ifdef SHARDLAB_HAVE_FFMPEG
  return std::make_unique<Mp4Writer>(path, width, height, static_cast<int>(fps));
#else
  throw Error("open_video: no writer for " + path);  // check_video_path refused it
#endif
}

}  // namespace shardlab
