// Pictures with words on them (media/figure.h): the raster pictures of `inspect --svg`,
// `maze show --svg`, `analyze vector-field --svg`, channels_top.svg and retarget.svg are SVG
// documents that python3's xml.etree parses, with their title, captions, labels and colour scale
// as text, and every panel an embedded PNG that python's base64 and zlib decode to its size.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "media/figure.h"
#include "media/png.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_cli;

using test::kLayer;  // 8 channels of 4 x 4 in the untrained policy

// The SVG as python3 reads it: its size; every text with its class, x and anchor; every image
// with its place, size, style and what its href decodes to (strict base64, the PNG signature,
// IHDR's width, height, depth and colour type, and the IDAT bytes inflated).
nlohmann::json read_figure(const std::string& path) {
  const std::string script = test::make_temp_dir() + "/read_figure.py";
  std::ofstream(script) << R"(import base64, json, struct, sys, zlib
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://www.w3.org/2000/svg}'
assert root.tag == ns + 'svg', root.tag
out = {'width': float(root.get('width')), 'height': float(root.get('height')), 'texts': [], 'images': []}
for t in root.iter(ns + 'text'):
    out['texts'].append({'text': t.text, 'class': t.get('class'), 'x': float(t.get('x', '0')),
                         'anchor': t.get('text-anchor', 'start')})
for im in root.iter(ns + 'image'):
    href = im.get('href')
    prefix = 'data:image/png;base64,'
    assert href.startswith(prefix), href[:40]
    png = base64.b64decode(href[len(prefix):], validate=True)
    assert png[:8] == b'\x89PNG\r\n\x1a\n', png[:8]
    at, idat, ihdr = 8, b'', None
    while at < len(png):
        n, kind = struct.unpack('>I4s', png[at:at + 8])
        data = png[at + 8:at + 8 + n]
        assert zlib.crc32(kind + data) == struct.unpack('>I', png[at + 8 + n:at + 12 + n])[0], kind
        if kind == b'IHDR': ihdr = struct.unpack('>IIBB', data[:10])
        if kind == b'IDAT': idat += data
        at += 12 + n
    w, h, depth, color = ihdr
    assert depth == 8 and color == 2, ihdr
    assert len(zlib.decompress(idat)) == h * (1 + 3 * w)
    out['images'].append({'x': float(im.get('x')), 'y': float(im.get('y')), 'width': float(im.get('width')),
                          'height': float(im.get('height')), 'style': im.get('style'), 'png_width': w,
                          'png_height': h})
print(json.dumps(out))
)";
  const auto r = test::run_shell("python3 " + script + " " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{{"texts", {}}, {"images", {}}};
}

// The texts of one class ("" for the title and notes' kind: any class).
std::vector<std::string> texts_of(const nlohmann::json& svg, const std::string& cls) {
  std::vector<std::string> out;
  for (const auto& t : svg["texts"])
    if (cls.empty() || (t["class"].is_string() && t["class"] == cls)) out.push_back(t["text"].get<std::string>());
  return out;
}

bool has(const std::vector<std::string>& texts, const std::string& needle) {
  return std::any_of(texts.begin(), texts.end(), [&](const auto& t) { return t.find(needle) != std::string::npos; });
}

// Every image lies inside the picture, drawn at its own size (whole pixels, crisp), and every text
// starts inside it (left-anchored texts start right of zero, every anchor inside the width).
void expect_inside(const nlohmann::json& svg) {
  const double w = svg["width"], h = svg["height"];
  for (const auto& im : svg["images"]) {
    EXPECT_GE(im["x"].get<double>(), 0);
    EXPECT_LE(im["x"].get<double>() + im["width"].get<double>(), w);
    EXPECT_LE(im["y"].get<double>() + im["height"].get<double>(), h);
    EXPECT_EQ(im["width"].get<double>(), im["png_width"].get<double>());
    EXPECT_EQ(im["height"].get<double>(), im["png_height"].get<double>());
    EXPECT_NE(im["style"].get<std::string>().find("pixelated"), std::string::npos);
  }
  for (const auto& t : svg["texts"]) {
    EXPECT_GE(t["x"].get<double>(), 0) << t["text"];
    EXPECT_LE(t["x"].get<double>(), w) << t["text"];
  }
}

FigurePanel solid(int width, int height, float r, float g, float b, const std::string& caption) {
  FigurePanel p{width, height, std::vector<float>(3 * static_cast<size_t>(width) * height), caption};
  const size_t plane = static_cast<size_t>(width) * height;
  std::fill(p.chw.begin(), p.chw.begin() + plane, r);
  std::fill(p.chw.begin() + plane, p.chw.begin() + 2 * plane, g);
  std::fill(p.chw.begin() + 2 * plane, p.chw.end(), b);
  return p;
}

TEST(Figure, Base64GivesTheStandardEncoding) {
  // RFC 4648's test vectors, then bytes above 127 and the last two digits of the alphabet.
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\xfe\xfd", 3)), "//79");
  EXPECT_EQ(base64(std::string("\0\xf8", 2)), "APg=");
}

TEST(Figure, PngBytesHoldThePixelsAndWritePngWritesTheSameBytes) {
  // 3 x 2 pixels: red, green, blue / black, white, grey; values outside [0, 1] are clamped.
  const std::vector<float> chw = {1, 0, 0, 0,  1, 0.5f,  //
                                  0, 1, 0, 0,  1, 0.5f,  //
                                  0, 0, 2, -1, 1, 0.5f};
  const std::string png = png_bytes(chw.data(), 2, 3);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  const auto u32 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(png[at])) << 24 |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 1])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(png[at + 2])) << 8 |
           static_cast<unsigned char>(png[at + 3]);
  };
  EXPECT_EQ(u32(16), 3u);  // width
  EXPECT_EQ(u32(20), 2u);  // height
  // IHDR is 13 bytes, then its CRC; IDAT follows.
  const size_t idat = 8 + 12 + 13;
  ASSERT_EQ(png.substr(idat + 4, 4), "IDAT");
  std::vector<unsigned char> raw(2 * (1 + 3 * 3));
  uLongf raw_size = raw.size();
  ASSERT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(png.data() + idat + 8), u32(idat)), Z_OK);
  ASSERT_EQ(raw_size, raw.size());
  const std::vector<unsigned char> expected = {0, 255, 0, 0, 0,   255, 0,   0,   0,   255,  //
                                               0, 0,   0, 0, 255, 255, 255, 128, 128, 128};
  EXPECT_EQ(raw, expected);

  const std::string dir = test::make_temp_dir();
  write_png(dir + "/p.png", chw.data(), 2, 3);
  EXPECT_EQ(test::read_file(dir + "/p.png"), png);
}

TEST(Figure, SvgIsWellFormedWithItsWordsLaidOutAndEveryPanelAnEmbeddedPngOfItsSize) {
  Figure f;
  f.title = "A title with <markup> & \"quotes\"";
  f.notes = {"first note", "second note"};
  f.columns = 2;
  f.panels = {solid(40, 30, 1, 0, 0, "left <one>"), solid(20, 30, 0, 1, 0, "right"),
              solid(40, 10, 0, 0, 1, "a caption much wider than its forty-pixel panel")};
  f.column_labels = {"seed 1", "seed 2"};
  f.row_labels = {"channel 5 (\u00b12)", "channel 7"};
  ColorScale scale{"activation", -2, 2, {"#0000ff", "#ffffff", "#ff0000"}, {{-2, "-2"}, {0, "0"}, {2, "+2"}}};
  f.scales = {scale};
  f.legend = {{"wall", "#404050"}, {"arrow", "#1a33cc", svg::Swatch::kLine}};
  const std::string dir = test::make_temp_dir();
  write_figure(dir + "/f.svg", f);
  const auto svg = read_figure(dir + "/f.svg");

  const auto all = texts_of(svg, "");
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0], f.title);  // escaped in the file, read back as written
  EXPECT_EQ(texts_of(svg, "note"), f.notes);
  EXPECT_EQ(texts_of(svg, "caption"),
            (std::vector<std::string>{"left <one>", "right", "a caption much wider than its forty-pixel panel"}));
  EXPECT_EQ(texts_of(svg, "column-label"), f.column_labels);
  EXPECT_EQ(texts_of(svg, "row-label"), f.row_labels);
  for (const char* word : {"activation", "-2", "0", "+2", "wall", "arrow"}) EXPECT_TRUE(has(all, word)) << word;

  ASSERT_EQ(svg["images"].size(), 3u);
  const std::vector<std::pair<int, int>> sizes = {{40, 30}, {20, 30}, {40, 10}};
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(svg["images"][i]["png_width"], sizes[i].first);
    EXPECT_EQ(svg["images"][i]["png_height"], sizes[i].second);
  }
  // Row by row, two columns: the second panel right of the first, the third under the first.
  EXPECT_GT(svg["images"][1]["x"].get<double>(), svg["images"][0]["x"].get<double>() + 40);
  EXPECT_EQ(svg["images"][1]["y"], svg["images"][0]["y"]);
  EXPECT_GT(svg["images"][2]["y"].get<double>(), svg["images"][0]["y"].get<double>() + 30);
  expect_inside(svg);
}

TEST(Figure, ABadPathOrPanelIsRefusedAndLeavesNoFile) {
  const std::string dir = test::make_temp_dir();
  Figure f;
  f.title = "t";
  f.panels = {solid(4, 4, 1, 1, 1, "")};
  EXPECT_THROW(write_figure(dir + "/f.png", f), InputError);
  EXPECT_THROW(write_figure(dir + "/svg", f), InputError);
  EXPECT_THROW(write_figure(dir + "/absent/f.svg", f), Error);
  f.panels[0].chw.pop_back();
  EXPECT_THROW(write_figure(dir + "/f.svg", f), Error);
  f.panels[0].chw.push_back(1);
  f.scales = {ColorScale{"one colour", 0, 1, {"#ffffff"}, {}}};
  EXPECT_THROW(write_figure(dir + "/f.svg", f), Error);
  EXPECT_TRUE(fs::is_empty(dir));  // no figure, no temporary
}

TEST(Figure, InspectDrawsATitledChannelGridAndOneChannelWithItsColourScale) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  ASSERT_EQ(
      run_cli("analyze record " + policy + " --seeds 0:3 --layers " + kLayer + " --out " + dir + "/log.h5").exit_code,
      0);
  auto r = run_cli("inspect " + dir + "/log.h5 --layer " + kLayer + " --maze 1 --svg " + dir + "/all.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto svg = read_figure(dir + "/all.svg");
  auto all = texts_of(svg, "");
  ASSERT_FALSE(all.empty());
  EXPECT_NE(all[0].find("log.h5"), std::string::npos) << all[0];
  EXPECT_NE(all[0].find(kLayer), std::string::npos) << all[0];
  EXPECT_TRUE(has(texts_of(svg, "note"), "maze row 1, level seed 1")) << svg["texts"];
  const auto captions = texts_of(svg, "caption");
  ASSERT_EQ(captions.size(), 8u);
  for (int c = 0; c < 8; ++c) EXPECT_EQ(captions[c].rfind("channel " + std::to_string(c) + " (", 0), 0u) << captions[c];
  EXPECT_TRUE(has(all, "+max |value|"));
  ASSERT_EQ(svg["images"].size(), 8u);
  for (const auto& im : svg["images"]) EXPECT_EQ(im["png_width"], 8 * 15);
  expect_inside(svg);

  r = run_cli("inspect " + dir + "/log.h5 --layer " + kLayer + " --channel 3 --svg " + dir + "/c3.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = read_figure(dir + "/c3.svg");
  EXPECT_EQ(texts_of(svg, "caption"), std::vector<std::string>{"channel 3"});
  ASSERT_EQ(svg["images"].size(), 1u);
  EXPECT_EQ(svg["images"][0]["png_width"], 32 * 15);
  // The scale runs from -max to +max through 0, the max as the note says.
  all = texts_of(svg, "");
  const auto note = texts_of(svg, "note").back();
  const std::string max = note.substr(note.rfind('(') + 1, note.rfind(')') - note.rfind('(') - 1);
  EXPECT_GT(std::stod(max), 0);
  EXPECT_TRUE(has(all, "-" + max)) << note;
  EXPECT_TRUE(std::find(all.begin(), all.end(), max) != all.end()) << note;
  EXPECT_TRUE(std::find(all.begin(), all.end(), "0") != all.end());
  expect_inside(svg);
}

TEST(Figure, MazesVectorFieldsChannelsAndRetargetingAreCaptioned) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);

  auto r = run_cli("maze show --seeds 5:8 --distribution easy --svg " + dir + "/m.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto svg = read_figure(dir + "/m.svg");
  EXPECT_EQ(texts_of(svg, "")[0], "Procgen mazes, level seeds 5..7");
  auto captions = texts_of(svg, "caption");
  ASSERT_EQ(captions.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(captions[i].rfind("seed " + std::to_string(5 + i) + ", ", 0), 0u);
  EXPECT_EQ(svg["images"].size(), 3u);
  expect_inside(svg);

  r = run_cli("analyze vector-field " + policy + " --seed 4 --patch cheese-vector:" + kLayer + ":-1 --svg " + dir +
              "/vf.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = read_figure(dir + "/vf.svg");
  EXPECT_EQ(texts_of(svg, "")[0], "Vector field of level seed 4, patched with cheese-vector:" + kLayer + ":-1");
  EXPECT_EQ(texts_of(svg, "caption"), (std::vector<std::string>{"original", "patched", "patched - original"}));
  EXPECT_TRUE(has(texts_of(svg, ""), "P(right) - P(left)"));
  EXPECT_EQ(svg["images"].size(), 3u);
  expect_inside(svg);

  r = run_cli("analyze channels " + policy + " --seeds 0:30 --top 3 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = read_figure(dir + "/a/channels_top.svg");
  EXPECT_NE(texts_of(svg, "")[0].find(kLayer), std::string::npos);
  const auto rows = texts_of(svg, "row-label");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_EQ(row.rfind("channel ", 0), 0u) << row;
  const auto columns = texts_of(svg, "column-label");
  ASSERT_FALSE(columns.empty());
  for (const auto& column : columns) EXPECT_EQ(column.rfind("seed ", 0), 0u) << column;
  EXPECT_EQ(svg["images"].size(), rows.size() * columns.size());
  EXPECT_TRUE(has(texts_of(svg, ""), "-max |value|"));
  expect_inside(svg);

  r = run_cli("analyze retarget " + policy +
              " --protocol ours --seeds 2:4 --channels 1,3 --value 4.5 --max-targets 5 --out " + dir + "/a");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = read_figure(dir + "/a/retarget.svg");
  EXPECT_EQ(texts_of(svg, "")[0], "Retargeting: " + kLayer + " channels 1,3 set to 4.5 at the target");
  // The maze drawn is the one the command names.
  const size_t seed_at = r.err.find("(seed ");
  ASSERT_NE(seed_at, std::string::npos) << r.err;
  const std::string seed = r.err.substr(seed_at + 6, r.err.find(':', seed_at) - seed_at - 6);
  EXPECT_TRUE(has(texts_of(svg, "note"), "level seed " + seed + ", cheese removed")) << seed;
  EXPECT_EQ(texts_of(svg, "caption"), (std::vector<std::string>{"before the edit", "after: channels set to 4.5"}));
  // The legend names what is drawn: the mouse, not the cheese (removed).
  const auto words = texts_of(svg, "");
  EXPECT_NE(std::find(words.begin(), words.end(), "mouse"), words.end());
  EXPECT_EQ(std::find(words.begin(), words.end(), "cheese"), words.end());
  for (const char* word : {"path probability", "0", "1"}) EXPECT_TRUE(has(texts_of(svg, ""), word)) << word;
  EXPECT_EQ(svg["images"].size(), 2u);
  expect_inside(svg);
}

TEST(Figure, APictureNotNamedSvgIsOneLineAndNoFile) {
  const std::string dir = test::make_temp_dir();
  const std::string policy = test::untrained_maze_policy(dir);
  expect_one_line_error(run_cli("maze show --seed 1 --svg " + dir + "/m.png"),
                        "--svg " + dir + "/m.png: pictures are written as SVG");
  expect_one_line_error(run_cli("analyze vector-field " + policy + " --seed 1 --svg " + dir + "/vf.png"),
                        "expected a file name ending in .svg", true);
  ASSERT_EQ(
      run_cli("analyze record " + policy + " --seeds 0:2 --layers " + kLayer + " --out " + dir + "/log.h5").exit_code,
      0);
  expect_one_line_error(run_cli("inspect " + dir + "/log.h5 --layer " + kLayer + " --svg " + dir + "/l.png"),
                        "ending in .svg");
  expect_one_line_error(run_cli("maze show --seed 1 --png " + dir + "/m.png"), "png");
  for (const char* file : {"/m.png", "/vf.png", "/l.png"}) EXPECT_FALSE(fs::exists(dir + file)) << file;
}

}  // namespace
}  // namespace shardlab
