// Pictures of Box2D tasks: a scene is a list of filled polygons and polylines in world
// coordinates, rasterised into an RGB image for `shardlab render`.
#pragma once

#include <box2d/box2d.h>

#include <array>
#include <vector>

#include "envs/env.h"

namespace shardlab::box2d {

using Colour = std::array<float, 3>;  // RGB in [0, 1]

struct Scene {
  // The world rectangle shown, and the picture's size in pixels.
  float left = 0, bottom = 0, right = 1, top = 1;
  int width = 600, height = 400;
  Colour background{1, 1, 1};
  struct Shape {
    std::vector<b2Vec2> points;  // world coordinates
    bool filled = true;          // a filled polygon, or a polyline
    Colour colour{0, 0, 0};
  };
  std::vector<Shape> shapes;  // drawn in order

  void add_polygon(std::vector<b2Vec2> points, Colour colour) { shapes.push_back({std::move(points), true, colour}); }
  void add_line(std::vector<b2Vec2> points, Colour colour) { shapes.push_back({std::move(points), false, colour}); }
  // Every polygon and edge fixture of `body`, in world coordinates.
  void add_body(const b2Body& body, Colour fill, Colour outline);
};


// (3, height, width) floats in [0, 1], row 0 at the top.
std::vector<float> rasterize(const Scene& scene);
// The scene rasterised as a frame of its own size.
inline Frame draw_scene(const Scene& scene) { return {scene.width, scene.height, rasterize(scene)}; }

}  // namespace shardlab::box2d
