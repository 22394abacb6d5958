#include "envs/box2d/box2d_draw.h"

#include <algorithm>
#include <cmath>

namespace shardlab::box2d {

void Scene::add_body(const b2Body& body, Colour fill, Colour outline) {
  for (const b2Fixture* f = body.GetFixtureList(); f; f = f->GetNext()) {
    std::vector<b2Vec2> points;
    if (f->GetType() == b2Shape::e_polygon) {
      const auto* poly = static_cast<const b2PolygonShape*>(f->GetShape());
      for (int i = 0; i < poly->m_count; ++i) points.push_back(body.GetWorldPoint(poly->m_vertices[i]));
      add_polygon(points, fill);
      points.push_back(points.front());
      add_line(points, outline);
    } else if (f->GetType() == b2Shape::e_edge) {
      const auto* edge = static_cast<const b2EdgeShape*>(f->GetShape());
      add_line({body.GetWorldPoint(edge->m_vertex1), body.GetWorldPoint(edge->m_vertex2)}, outline);
    }
  }
}

namespace {

struct Canvas {
  int width, height;
  std::vector<float>& chw;
  void set(int x, int y, const Colour& c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const size_t plane = static_cast<size_t>(width) * height;
    for (int k = 0; k < 3; ++k) chw[k * plane + static_cast<size_t>(y) * width + x] = c[k];
  }
};

// Even-odd scanline fill at pixel centres; points in pixel coordinates (y down).
void fill_polygon(Canvas& canvas, const std::vector<b2Vec2>& p, const Colour& c) {
  if (p.size() < 3) return;
  float ymin = p[0].y, ymax = p[0].y;
  for (const auto& v : p) ymin = std::min(ymin, v.y), ymax = std::max(ymax, v.y);
  const int y0 = std::max(0, static_cast<int>(std::floor(ymin))),
            y1 = std::min(canvas.height - 1, static_cast<int>(std::ceil(ymax)));
  std::vector<float> xs;
  for (int y = y0; y <= y1; ++y) {
    const float yc = y + 0.5f;
    xs.clear();
    for (size_t i = 0; i < p.size(); ++i) {
      const b2Vec2& a = p[i];
      const b2Vec2& b = p[(i + 1) % p.size()];
      if ((a.y <= yc) != (b.y <= yc)) xs.push_back(a.x + (yc - a.y) / (b.y - a.y) * (b.x - a.x));
    }
    std::sort(xs.begin(), xs.end());
    for (size_t i = 0; i + 1 < xs.size(); i += 2)
      for (int x = static_cast<int>(std::ceil(xs[i] - 0.5f)); x <= static_cast<int>(std::floor(xs[i + 1] - 0.5f)); ++x)
        canvas.set(x, y, c);
  }
}

void draw_line(Canvas& canvas, b2Vec2 a, b2Vec2 b, const Colour& c) {
  const float length = std::max(std::fabs(b.x - a.x), std::fabs(b.y - a.y));
  const int n = std::max(1, static_cast<int>(std::ceil(length)));
  if (n > 100000) return;  // far off the picture
  for (int i = 0; i <= n; ++i) {
    const float t = static_cast<float>(i) / n;
    canvas.set(static_cast<int>(std::floor(a.x + t * (b.x - a.x))), static_cast<int>(std::floor(a.y + t * (b.y - a.y))),
               c);
  }
}

}  // namespace

std::vector<float> rasterize(const Scene& scene) {
  const size_t plane = static_cast<size_t>(scene.width) * scene.height;
  std::vector<float> chw(3 * plane);
  for (int k = 0; k < 3; ++k) std::fill(chw.begin() + k * plane, chw.begin() + (k + 1) * plane, scene.background[k]);
  Canvas canvas{scene.width, scene.height, chw};
  const float sx = scene.width / (scene.right - scene.left), sy = scene.height / (scene.top - scene.bottom);
  std::vector<b2Vec2> pixels;
  for (const auto& shape : scene.shapes) {
    pixels.clear();
    for (const auto& p : shape.points) pixels.push_back({(p.x - scene.left) * sx, (scene.top - p.y) * sy});
    if (shape.filled) {
      fill_polygon(canvas, pixels, shape.colour);
    } else {
      for (size_t i = 0; i + 1 < pixels.size(); ++i) draw_line(canvas, pixels[i], pixels[i + 1], shape.colour);
    }
  }
  return chw;
}

}  // namespace shardlab::box2d
