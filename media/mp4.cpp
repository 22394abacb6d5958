#include "media/mp4.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
}

#include <cerrno>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"

namespace shardlab {
namespace {

constexpr int kMaxSide = 16384;
constexpr int kMaxFps = 1000;
// libx264: "fast" encodes these flat pictures about as small as "medium" in less time; CRF 23 is
// x264's own default quality. MPEG-4 part 2: a fixed quantiser of 3 (1 best .. 31 worst), which
// keeps the maze's thin walls sharp.
constexpr const char* kX264Preset = "fast";
constexpr const char* kX264Crf = "23";
constexpr int kMpeg4Quantiser = 3;
constexpr int kKeyframeSeconds = 2;  // a player can seek to every 2 s

// The rows of RGB24 the converter reads start 64-byte aligned, with spare bytes after the last:
// swscale's vector code may read a little past a row's end.
constexpr int kRowAlign = 64;

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, text, sizeof text);  // the text av_err2str gives (a C macro C++ cannot use)
  return text;
}

}  // namespace

struct Mp4Writer::State {
  explicit State(const std::string& path) : file(path) {}
  ~State() { release(); }  // before `file` removes the temporary (no finish(), or a failure)
  AtomicFile file;
  std::string codec;
  AVFormatContext* format = nullptr;
  AVCodecContext* encoder = nullptr;
  AVStream* stream = nullptr;  // owned by `format`
  AVFrame* frame = nullptr;    // yuv420p, reused for every frame
  AVPacket* packet = nullptr;
  SwsContext* scaler = nullptr;
  std::vector<uint8_t> rgb;  // the frame being written, interleaved RGB24, rows `stride` bytes apart
  int stride = 0;
  bool finished = false;

  // FileError naming the file, the step and libav's reason.
  [[noreturn]] void fail(const std::string& what, int code) const {
    throw FileError(file.path() + ": cannot write MP4 (" + what + ": " + av_error_text(code) + ")");
  }
  void release() {
    sws_freeContext(scaler);
    scaler = nullptr;
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&encoder);
    if (format) {
      if (format->pb) avio_closep(&format->pb);
      avformat_free_context(format);
      format = nullptr;
    }
  }
  // Sends `next` (nullptr: the end, to drain the encoder) and writes every packet it has ready.
  void encode(const AVFrame* next) {
    int r = avcodec_send_frame(encoder, next);
    if (r < 0) fail("encoding", r);
    for (;;) {
      r = avcodec_receive_packet(encoder, packet);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail("encoding", r);
      // Every frame lasts one tick; the muxer needs it for the last one, whose duration it cannot
      // infer from a next (without it the file's last frame has none, and players drop it).
      if (packet->duration == 0) packet->duration = 1;
      av_packet_rescale_ts(packet, encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      r = av_interleaved_write_frame(format, packet);  // takes the packet's data in every case
      if (r < 0) fail("writing", r);
    }
  }
};

Mp4Writer::Mp4Writer(const std::string& path, int width, int height, int fps) : VideoWriter(width, height) {
  if (width < 2 || width > kMaxSide || height < 2 || height > kMaxSide)
    throw InputError(path + ": an MP4 frame is 2 to " + std::to_string(kMaxSide) + " pixels a side, not " +
                     std::to_string(width) + " x " + std::to_string(height));
  if (fps < 1 || fps > kMaxFps)
    throw InputError(path + ": an MP4 frame rate is 1 to " + std::to_string(kMaxFps) + " frames/s, not " +
                     std::to_string(fps));
  // libav's log would add lines to the command's output (x264 prints its settings and statistics);
  // its errors come back as return codes, which become the one FileError line.
  av_log_set_level(AV_LOG_QUIET);
  state_ = std::make_unique<State>(path);
  State& s = *state_;
  const char* temporary = s.file.temporary_path().c_str();
  // The container by name: the temporary's own extension (".tmp.<pid>") names none.
  int r = avformat_alloc_output_context2(&s.format, nullptr, "mp4", temporary);
  if (r < 0) s.fail("container", r);
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  if (!codec) throw FileError(path + ": cannot write MP4 (this libavcodec has neither libx264 nor an MPEG-4 encoder)");
  s.codec = codec->name;
  s.stream = avformat_new_stream(s.format, nullptr);
  s.encoder = avcodec_alloc_context3(codec);
  s.frame = av_frame_alloc();
  s.packet = av_packet_alloc();
  if (!s.stream || !s.encoder || !s.frame || !s.packet) s.fail("allocating the encoder", AVERROR(ENOMEM));

  AVCodecContext& e = *s.encoder;
  e.width = stored_width();
  e.height = stored_height();
  e.pix_fmt = AV_PIX_FMT_YUV420P;
  e.time_base = AVRational{1, fps};  // one tick per frame: constant frame rate
  e.framerate = AVRational{fps, 1};
  e.gop_size = kKeyframeSeconds * fps;
  // What sws_scale's default coefficients produce: ITU-R BT.601, limited range.
  e.color_range = AVCOL_RANGE_MPEG;
  e.colorspace = AVCOL_SPC_SMPTE170M;
  e.color_primaries = AVCOL_PRI_SMPTE170M;
  e.color_trc = AVCOL_TRC_SMPTE170M;
  AVDictionary* options = nullptr;
  if (s.codec == "libx264") {
    av_dict_set(&options, "preset", kX264Preset, 0);
    av_dict_set(&options, "crf", kX264Crf, 0);
  } else {
    e.flags |= AV_CODEC_FLAG_QSCALE;
    e.global_quality = FF_QP2LAMBDA * kMpeg4Quantiser;
  }
  if (s.format->oformat->flags & AVFMT_GLOBALHEADER) e.flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  r = avcodec_open2(s.encoder, codec, &options);
  av_dict_free(&options);
  if (r < 0) s.fail("opening the " + s.codec + " encoder", r);
  r = avcodec_parameters_from_context(s.stream->codecpar, s.encoder);
  if (r < 0) s.fail("stream parameters", r);
  s.stream->time_base = e.time_base;  // a hint: the muxer may choose a finer one

  r = avio_open(&s.format->pb, temporary, AVIO_FLAG_WRITE);
  if (r < 0) s.fail("opening", r);
  r = avformat_write_header(s.format, nullptr);
  if (r < 0) s.fail("header", r);

  s.frame->format = AV_PIX_FMT_YUV420P;
  s.frame->width = e.width;
  s.frame->height = e.height;
  r = av_frame_get_buffer(s.frame, 0);
  if (r < 0) s.fail("allocating a frame", r);
  s.scaler = sws_getContext(e.width, e.height, AV_PIX_FMT_RGB24, e.width, e.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                            nullptr, nullptr, nullptr);
  if (!s.scaler) s.fail("RGB to YUV conversion", AVERROR(EINVAL));
  s.stride = (3 * e.width + kRowAlign - 1) / kRowAlign * kRowAlign;
  s.rgb.resize(static_cast<size_t>(s.stride) * e.height + kRowAlign);
}

Mp4Writer::~Mp4Writer() = default;

const std::string& Mp4Writer::codec() const { return state_->codec; }

void Mp4Writer::add_frame(const float* chw) {
  if (!state_ || state_->finished) throw Error("Mp4Writer: frame added after finish()");
  State& s = *state_;
  const int w = stored_width(), h = stored_height();
  const size_t plane = static_cast<size_t>(width_) * height_;
  uint8_t* rgb = s.rgb.data();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t p = static_cast<size_t>(y) * width_ + x;  // the odd last column and row are skipped
      uint8_t* out = rgb + static_cast<size_t>(y) * s.stride + static_cast<size_t>(x) * 3;
      for (int c = 0; c < 3; ++c) out[c] = frame_byte(chw[c * plane + p]);
    }
  // The encoder may still hold the previous frame's buffer (B-frames): write into a fresh one then.
  int r = av_frame_make_writable(s.frame);
  if (r < 0) s.fail("allocating a frame", r);
  const uint8_t* source[1] = {rgb};
  const int stride[1] = {s.stride};
  sws_scale(s.scaler, source, stride, 0, h, s.frame->data, s.frame->linesize);
  s.frame->pts = frames_;
  s.encode(s.frame);
  ++frames_;
}

void Mp4Writer::finish(bool replace) {
  if (!state_ || state_->finished) throw Error("Mp4Writer: finish() called twice");
  State& s = *state_;
  s.finished = true;
  s.encode(nullptr);
  int r = av_write_trailer(s.format);
  if (r < 0) s.fail("trailer", r);
  r = avio_closep(&s.format->pb);
  if (r < 0) s.fail("closing", r);
  s.release();
  s.file.commit(replace);
}

}  // namespace shardlab
