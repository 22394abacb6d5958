#include "envs/maze/procgen_render.h"

#include <QImage>
#include <QPainter>
#include <QRectF>
#include <QString>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"

namespace shardlab::maze {

const char* const kProcgenWallAsset = "kenney/Ground/Sand/sandCenter.png";
const char* const kProcgenCheeseAsset = "misc_assets/cheese.png";
const char* const kProcgenMouseAsset = "kenney/Enemies/mouse_move.png";

namespace {

// The maze's background list, in Procgen's order (resources.cpp, topdown_backgrounds): a level's
// background_index points into it.
const char* const kBackgroundFiles[kNumBackgrounds] = {
    "topdown_backgrounds/floortiles.png",          "topdown_backgrounds/backgrounddetailed1.png",
    "topdown_backgrounds/backgrounddetailed2.png", "topdown_backgrounds/backgrounddetailed3.png",
    "topdown_backgrounds/backgrounddetailed4.png", "topdown_backgrounds/backgrounddetailed5.png",
    "topdown_backgrounds/backgrounddetailed6.png", "topdown_backgrounds/backgrounddetailed7.png",
    "topdown_backgrounds/backgrounddetailed8.png"};

// Grid cells are drawn this much (in cells) larger on each side, so that neighbouring blocks
// leave no gaps at a non-integer pixel scale (Procgen's RENDER_EPS).
constexpr float kRenderEps = 0.02f;

const std::string kAssetsHint =
    "env.procgen_assets: procgen_rgb needs the folder with Procgen's assets (a pip install of procgen has it at "
    ".../procgen/data/assets; tests use ../shared/testdata/procgen_assets)";

QImage load_image(const std::string& folder, const std::string& relative, QImage::Format format) {
  const std::filesystem::path path = std::filesystem::path(folder) / relative;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(kAssetsHint + "; '" + folder + "' has no " + relative);
  QImage image(QString::fromStdString(path.string()));
  if (image.isNull() || image.width() == 0) throw InputError(kAssetsHint + "; cannot read " + path.string() + " as PNG");
  return image.convertToFormat(format);
}

}  // namespace

class ProcgenAssets {
 public:
  explicit ProcgenAssets(const std::string& folder) {
    // Procgen loads sprites as premultiplied ARGB and backgrounds as RGB (resources.cpp), and keeps
    // a mirrored copy of every sprite for reflected entities.
    wall = load_image(folder, kProcgenWallAsset, QImage::Format_ARGB32_Premultiplied);
    cheese = load_image(folder, kProcgenCheeseAsset, QImage::Format_ARGB32_Premultiplied);
    mouse = load_image(folder, kProcgenMouseAsset, QImage::Format_ARGB32_Premultiplied);
    mouse_reflected = mouse.mirrored(true, false);
    for (int i = 0; i < kNumBackgrounds; ++i)
      backgrounds[i] = load_image(folder, kBackgroundFiles[i], QImage::Format_RGB32);
  }
  QImage wall, cheese, mouse, mouse_reflected;
  QImage backgrounds[kNumBackgrounds];
};

std::shared_ptr<const ProcgenAssets> load_procgen_assets(const std::string& folder) {
  if (folder.empty()) throw InputError(kAssetsHint);
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw InputError(kAssetsHint + "; '" + folder + "' is not a folder");
  const std::string key = std::filesystem::weakly_canonical(folder, ec).string();
  // Kept for the life of the process (a few MB per folder): environments are made and dropped
  // often (evaluation, studies), decoding the backgrounds again each time would dominate.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const ProcgenAssets>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& cached = cache[key];
  if (!cached) cached = std::make_shared<const ProcgenAssets>(folder);
  return cached;
}

namespace {

// Procgen's view of the whole world (BasicAbstractGame::prepare_for_drawing without a centred
// agent) and its get_screen_rect, in the same float arithmetic: a different rounding moves an
// edge by one pixel.
struct View {
  explicit View(int world_size) {
    const float visibility = static_cast<float>(world_size);
    const float raw_unit = kProcgenFrameSize / visibility;
    unit = static_cast<float>(raw_unit * (kProcgenFrameSize / 64.0));
    view_dim = static_cast<float>(64.0 / raw_unit);
    const float center = static_cast<float>(world_size * .5);
    offset = unit * (center - view_dim / 2);
  }
  // The rectangle of the world box with bottom-left (x, y - dy), i.e. top-left (x, y) in world
  // units with y up, grown by eps on each side.
  QRectF screen_rect(float x, float y, float dx, float dy, float eps = 0.0f) const {
    return QRectF((x - eps) * unit - offset, (view_dim - y - eps) * unit + offset, (dx + 2 * eps) * unit,
                  (dy + 2 * eps) * unit);
  }
  float unit, view_dim, offset;
};

void paint(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse, QImage& target) {
  const int w = layout.world_size;
  const View view(w);
  QPainter p(&target);
  // The observation is rendered without antialiasing or smooth pixmap transforms
  // (Game::observe calls render_to_buf with antialias = false).

  // draw_background: black, then the level's background stretched over the world, shifted left by
  // its offset times the part wider than the world (none for the maze's square images).
  p.fillRect(QRect(0, 0, kProcgenFrameSize, kProcgenFrameSize), QColor(0, 0, 0));
  const QImage& background = assets.backgrounds[layout.background_index % kNumBackgrounds];
  const QRectF main_rect = view.screen_rect(0, static_cast<float>(w), static_cast<float>(w), static_cast<float>(w));
  const float bg_ar = static_cast<float>(background.width()) / static_cast<float>(background.height());
  const float world_ar = 1.0f;
  const float offset_x = layout.background_offset * (bg_ar - world_ar);
  const QRectF bg_rect(main_rect.x() + main_rect.width() * -offset_x, main_rect.y(),
                       main_rect.width() * (bg_ar / world_ar), main_rect.height());
  p.drawImage(bg_rect, background);

  // draw_foreground: the grid column by column (x outer, y inner), walls and cheese as images a
  // little larger than their cell (free cells draw nothing), then the mouse on top.
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < w; ++y) {
      const Cell c{x, y};
      const QImage* image = layout.is_wall(c) ? &assets.wall : c == layout.cheese ? &assets.cheese : nullptr;
      if (!image) continue;
      p.drawImage(view.screen_rect(static_cast<float>(x), static_cast<float>(y + 1), 1, 1, kRenderEps), *image);
    }
  // The agent is a 1 x 1 entity centred in its cell; the sprite faces left unless reflected.
  const float ax = mouse.position.x + 0.5f, ay = mouse.position.y + 0.5f, r = 0.5f;
  p.drawImage(view.screen_rect(ax - r, ay + r, 2 * r, 2 * r), mouse.facing_left ? assets.mouse : assets.mouse_reflected);
}

QImage render(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse) {
  QImage image(kProcgenFrameSize, kProcgenFrameSize, QImage::Format_RGB32);
  paint(assets, layout, mouse, image);
  return image;
}

}  // namespace

void draw_procgen_frame(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse, uint8_t* rgb) {
  const QImage image = render(assets, layout, mouse);
  for (int y = 0; y < kProcgenFrameSize; ++y) {
    const QRgb* row = reinterpret_cast<const QRgb*>(image.constScanLine(y));
    for (int x = 0; x < kProcgenFrameSize; ++x) {
      uint8_t* out = rgb + (static_cast<size_t>(y) * kProcgenFrameSize + x) * 3;
      out[0] = static_cast<uint8_t>(qRed(row[x]));
      out[1] = static_cast<uint8_t>(qGreen(row[x]));
      out[2] = static_cast<uint8_t>(qBlue(row[x]));
    }
  }
}

void draw_procgen_observation(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse,
                              float* chw) {
  const QImage image = render(assets, layout, mouse);
  constexpr size_t kPlane = static_cast<size_t>(kProcgenFrameSize) * kProcgenFrameSize;
  for (int y = 0; y < kProcgenFrameSize; ++y) {
    const QRgb* row = reinterpret_cast<const QRgb*>(image.constScanLine(y));
    for (int x = 0; x < kProcgenFrameSize; ++x) {
      const size_t at = static_cast<size_t>(y) * kProcgenFrameSize + x;
      chw[at] = qRed(row[x]) / 255.0f;
      chw[kPlane + at] = qGreen(row[x]) / 255.0f;
      chw[2 * kPlane + at] = qBlue(row[x]) / 255.0f;
    }
  }
}

}  // namespace shardlab::maze
