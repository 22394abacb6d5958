// Videos (media/video.h, media/mp4.h, agents/video.h): an MP4 decodes back with libavformat and
// libavcodec to every frame, at its even size and its colours; an abandoned or killed write leaves
// no file; training's run.video_every videos decode with giflib, are what `render --run` draws of
// the same update's checkpoint, and leave training's numbers as they were.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#ifdef SHARDLAB_HAVE_FFMPEG
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}
#include "media/mp4.h"
#endif

#include "core/error.h"
#include "media/video.h"
#include "tests/decoded_gif.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_cli;
using test::run_shell;
using test::without_clock;

using test::kSmoke;

int64_t files_in(const std::string& dir) {
  return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
}

// "wrote N frames of W x H" of render's stdout: {N, W, H}.
std::array<int64_t, 3> reported(const std::string& out) {
  std::array<int64_t, 3> v = {-1, -1, -1};
  const size_t at = out.find("wrote ");
  if (at != std::string::npos)
    std::sscanf(out.c_str() + at, "wrote %ld frames of %ld x %ld", &v[0], &v[1], &v[2]);  // NOLINT
  return v;
}

using test::DecodedGif;

#ifdef SHARDLAB_HAVE_FFMPEG

// An MP4 read back with libavformat and decoded with libavcodec: its frame count, stored size,
// codec, frame rate, and the RGB colour of a few pixels of its first and last frames.
struct DecodedMp4 {
  int64_t frames = 0;
  int width = 0, height = 0;
  std::string codec;
  double fps = 0;
  std::vector<std::array<int, 2>> probes;                       // pixels to read: (x, y)
  std::vector<std::array<int, 3>> first_colours, last_colours;  // at each probe
};

DecodedMp4 decode_mp4(const std::string& path, std::vector<std::array<int, 2>> probes = {}) {
  DecodedMp4 d;
  d.probes = std::move(probes);
  AVFormatContext* format = nullptr;
  if (avformat_open_input(&format, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << path << ": libavformat cannot open it";
    return d;
  }
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  EXPECT_STREQ(format->iformat->name, "mov,mp4,m4a,3gp,3g2,mj2");
  const AVCodec* decoder = nullptr;
  const int stream = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  if (stream < 0 || !decoder) {
    ADD_FAILURE() << path << ": no video stream";
    avformat_close_input(&format);
    return d;
  }
  d.codec = decoder->name;
  d.fps = av_q2d(format->streams[stream]->avg_frame_rate);
  AVCodecContext* codec = avcodec_alloc_context3(decoder);
  avcodec_parameters_to_context(codec, format->streams[stream]->codecpar);
  EXPECT_EQ(avcodec_open2(codec, decoder, nullptr), 0);
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  auto colours = [&](const AVFrame& f) {
    // Rows 64-byte aligned, with spare bytes at the end: swscale's vector code writes past a row.
    const int row = (3 * f.width + 63) / 64 * 64;
    std::vector<uint8_t> rgb(static_cast<size_t>(row) * f.height + 64);
    SwsContext* to_rgb = sws_getContext(f.width, f.height, static_cast<AVPixelFormat>(f.format), f.width, f.height,
                                        AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    uint8_t* out[1] = {rgb.data()};
    const int stride[1] = {row};
    sws_scale(to_rgb, f.data, f.linesize, 0, f.height, out, stride);
    sws_freeContext(to_rgb);
    std::vector<std::array<int, 3>> c;
    for (const auto& [x, y] : d.probes) {
      const uint8_t* p = rgb.data() + static_cast<size_t>(y) * row + static_cast<size_t>(x) * 3;
      c.push_back({p[0], p[1], p[2]});
    }
    return c;
  };
  auto drain = [&] {
    while (avcodec_receive_frame(codec, frame) == 0) {
      if (d.frames == 0) d.width = frame->width, d.height = frame->height;
      EXPECT_EQ(frame->width, d.width);
      EXPECT_EQ(frame->height, d.height);
      if (d.frames == 0) d.first_colours = colours(*frame);
      d.last_colours = colours(*frame);
      ++d.frames;
      av_frame_unref(frame);
    }
  };
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == stream) {
      EXPECT_EQ(avcodec_send_packet(codec, packet), 0);
      drain();
    }
    av_packet_unref(packet);
  }
  avcodec_send_packet(codec, nullptr);  // the end: the decoder gives the frames it still holds
  drain();
  av_frame_free(&frame);
  av_packet_free(&packet);
  avcodec_free_context(&codec);
  avformat_close_input(&format);
  return d;
}

void expect_near(const std::array<int, 3>& got, const std::array<int, 3>& want, const std::string& what) {
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(got[c], want[c], 16) << what << ", channel " << c;
}

TEST(Video, Mp4FramesDecodeBackToTheirCountEvenSizeAndColours) {
  const std::string dir = test::make_temp_dir();
  const int width = 33, height = 21, frames = 30;  // odd sides: stored as 32 x 20
  std::string codec;
  {
    std::unique_ptr<VideoWriter> video = open_video(dir + "/v.mp4", width, height, 25);
    codec = dynamic_cast<Mp4Writer&>(*video).codec();
    for (int f = 0; f < frames; ++f) {
      // Left of x = 16 red, right of it blue, the last frame's right half green; the odd last
      // column (x = 32) white, which the crop drops.
      std::vector<float> chw(3 * width * height, 0.0f);
      for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
          const int c = x == 32 ? -1 : x < 16 ? 0 : f == frames - 1 ? 1 : 2;
          for (int k = 0; k < 3; ++k) chw[k * width * height + y * width + x] = c == -1 || c == k ? 1.0f : 0.0f;
        }
      video->add_frame(chw.data());
    }
    EXPECT_FALSE(fs::exists(dir + "/v.mp4"));  // only complete files under the final name
    video->finish();
    EXPECT_EQ(video->frames(), frames);
  }
  EXPECT_EQ(files_in(dir), 1);
  const DecodedMp4 d = decode_mp4(dir + "/v.mp4", {{4, 10}, {27, 10}, {31, 19}});
  EXPECT_EQ(d.frames, frames);
  EXPECT_EQ(d.width, 32);
  EXPECT_EQ(d.height, 20);
  EXPECT_NEAR(d.fps, 25.0, 1e-9);
  EXPECT_EQ(d.codec, codec == "libx264" ? "h264" : "mpeg4");
  ASSERT_EQ(d.first_colours.size(), 3u);
  expect_near(d.first_colours[0], {255, 0, 0}, "first frame, left");
  expect_near(d.first_colours[1], {0, 0, 255}, "first frame, right");
  expect_near(d.first_colours[2], {0, 0, 255}, "first frame, bottom right corner");  // not the white column
  expect_near(d.last_colours[0], {255, 0, 0}, "last frame, left");
  expect_near(d.last_colours[1], {0, 255, 0}, "last frame, right");
  EXPECT_THROW(open_video(dir + "/w.mp4", 1, 20, 25), InputError);
  EXPECT_THROW(open_video(dir + "/w.mp4", 20, 20, 0), InputError);
  EXPECT_THROW(open_video(dir + "/w.avi", 20, 20, 25), InputError);
}

TEST(Video, AbandonedFailedOrKilledMp4WriteLeavesNoFile) {
  const std::string dir = test::make_temp_dir();
  {
    std::unique_ptr<VideoWriter> abandoned = open_video(dir + "/x.mp4", 16, 16, 20);
    const std::vector<float> grey(3 * 16 * 16, 0.5f);
    for (int f = 0; f < 10; ++f) abandoned->add_frame(grey.data());
  }  // an exception between the frames and finish() ends the same way
  EXPECT_EQ(files_in(dir), 0);
  EXPECT_THROW(open_video(dir + "/no/such/folder/x.mp4", 16, 16, 20), InputError);
  EXPECT_EQ(files_in(dir), 0);
  // A render killed mid-video (SIGTERM, as a user's Ctrl-C or a scheduler would): no video, no
  // temporary. Killed once the temporary exists, so during the encoding.
  const std::string out = dir + "/killed.mp4";
  const auto killed = run_shell("( " + std::string(SHARDLAB_CLI) + " render --env lunar_lander --episodes 500 --out " +
                                out + " >/dev/null & pid=$!; " + "for i in $(seq 600); do ls " + dir +
                                " | grep -q tmp && break; sleep 0.05; done; " +
                                "sleep 0.3; kill -TERM $pid; wait $pid; echo killed=$? )");
  EXPECT_NE(killed.out.find("killed=143"), std::string::npos) << killed.out << killed.err;
  EXPECT_EQ(files_in(dir), 0);
}

TEST(Video, RenderWritesAnMp4ThatDecodesToEveryFrame) {
  const std::string dir = test::make_temp_dir();
  // An odd side (the maze's whole pixels per cell often make one) is stored a pixel shorter.
  const auto r = run_cli(
      "render --env maze --set env.distribution=easy --set env.max_episode_steps=60 --fps 30 --out " + dir + "/m.mp4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto [frames, width, height] = reported(r.out);
  ASSERT_GT(frames, 1) << r.out;
  const DecodedMp4 d = decode_mp4(dir + "/m.mp4");
  EXPECT_EQ(d.frames, frames);
  EXPECT_EQ(d.width, width & ~1);
  EXPECT_EQ(d.height, height & ~1);
  EXPECT_NEAR(d.fps, 30.0, 1e-9);
  // The lander at every 5th step, 2 episodes: both episodes' frames in one file.
  const auto l = run_cli("render --env lunar_lander --policy heuristic --episodes 2 --every 5 --out " + dir + "/l.mp4");
  ASSERT_EQ(l.exit_code, 0) << l.err;
  const auto [lander_frames, lander_width, lander_height] = reported(l.out);
  const DecodedMp4 ld = decode_mp4(dir + "/l.mp4");
  EXPECT_EQ(ld.frames, lander_frames);
  EXPECT_EQ(ld.width, 600);
  EXPECT_EQ(ld.height, 400);
  EXPECT_EQ(lander_width, 600);
  EXPECT_EQ(lander_height, 400);
  // The file exists now: kept without --force.
  expect_one_line_error(run_cli("render --env lunar_lander --out " + dir + "/l.mp4"), "--force");
  EXPECT_EQ(files_in(dir), 2);
}

#endif  // SHARDLAB_HAVE_FFMPEG

TEST(Video, Mp4OfABadFolderOrWithoutFfmpegIsOneLine) {
  const std::string dir = test::make_temp_dir();
  if (mp4_available()) {
    expect_one_line_error(run_cli("render --run " + dir + "/no_such_run --out " + dir + "/x.mp4"), "no_such_run");
    expect_one_line_error(run_cli("render --env maze --out " + dir + "/no/such/folder/x.mp4"), "no/such/folder");
    expect_one_line_error(run_cli("render --env maze --fps 2000 --out " + dir + "/x.mp4"), "--fps 2000");
  } else {
    expect_one_line_error(run_cli("render --env maze --out " + dir + "/x.mp4"), "MP4 is not built in");
  }
  EXPECT_EQ(files_in(dir), 0);
}

TEST(Video, TrainingVideosDecodeAreWhatRenderDrawsAndLeaveTheMetricsAlone) {
  const std::string with = test::make_temp_dir(), without = test::make_temp_dir();
  const std::string args = "train " + kSmoke + " --set train.total_steps=4096 --set run.checkpoint_every=2";
  const auto r = run_cli(args + " --set run.video_every=2 --out " + with);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(run_cli(args + " --out " + without).exit_code, 0);
  const std::string run = with + "/ppo_maze_smoke";
  // 4 updates of 16 x 64 steps: videos at updates 2 and 4, nothing else in videos/.
  EXPECT_EQ(files_in(run + "/videos"), 2);
  EXPECT_FALSE(fs::exists(without + "/ppo_maze_smoke/videos"));
  for (const char* update : {"0000002", "0000004"}) {
    const std::string video = run + "/videos/update_" + update + ".gif";
    const DecodedGif gif(video);
    // One episode, every step drawn: 2 to 101 frames (env.max_episode_steps = 100 in the spec).
    EXPECT_GE(gif.frames(), 2) << video;
    EXPECT_LE(gif.frames(), 101) << video;
    ASSERT_NE(gif.gif, nullptr);
    // `render --run` of the same update's checkpoint draws the same episode, frame for frame
    // (one torch thread, as the run had).
    const std::string again = with + "/render_" + update + ".gif";
    const auto rendered = run_shell("OMP_NUM_THREADS=1 " + std::string(SHARDLAB_CLI) + " render --run " + run +
                                    "/checkpoints/update_" + update + ".pt --out " + again);
    ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
    const auto [frames, width, height] = reported(rendered.out);
    EXPECT_EQ(frames, gif.frames()) << rendered.out;
    EXPECT_EQ(gif.gif->SWidth, width);
    EXPECT_EQ(gif.gif->SHeight, height);
    EXPECT_GE(width, 360);
    EXPECT_TRUE(test::read_file(again) == test::read_file(video)) << video << " differs from " << again;
  }
  // Recording takes its own environment and generator: the same numbers as without videos.
  const auto a = without_clock(test::read_csv(run + "/metrics.csv"));
  const auto b = without_clock(test::read_csv(without + "/ppo_maze_smoke/metrics.csv"));
  EXPECT_EQ(a.size(), 5u);
  EXPECT_EQ(a, b);
}

TEST(Video, VideoEveryIsADeclaredKeyWithARange) {
  const auto keys = run_cli("spec keys");
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_NE(keys.out.find("run.video_every"), std::string::npos);
  const std::string dir = test::make_temp_dir();
  expect_one_line_error(run_cli("train " + kSmoke + " --set run.video_every=-1 --out " + dir), "run.video_every");
  EXPECT_EQ(files_in(dir), 0);
}

}  // namespace
}  // namespace shardlab
