// The maze drawn as Procgen 0.10.7 draws its observation (the procgen_rgb observation): its own
// asset images (sand walls, cheese, mouse sprite, one of 9 top-down backgrounds), painted with Qt's
// raster QPainter in the same order, geometry and float arithmetic, 64 x 64 RGB. No display is
// needed. The asset files are Procgen's (Kenney's packs, CC0; food icons by thekingphoenix, CC0;
// "Top-Down Backgrounds" by davis123, CC-BY 3.0): they are read from a folder the user names and
// never copied. See ../shared/reference/maze.md, "How Procgen draws the maze".
//
// Qt stays inside procgen_render.cpp: this header is plain C++.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "envs/maze/maze_generator.h"
#include "envs/maze/maze_render.h"

namespace shardlab::maze {

constexpr int kProcgenFrameSize = 64;  // Procgen's observations are 64 x 64

// The asset files the maze draws, relative to the assets folder.
extern const char* const kProcgenWallAsset;    // kenney/Ground/Sand/sandCenter.png
extern const char* const kProcgenCheeseAsset;  // misc_assets/cheese.png
extern const char* const kProcgenMouseAsset;   // kenney/Enemies/mouse_move.png

// Procgen's images, decoded and converted once (sprites premultiplied ARGB, backgrounds RGB,
// the mouse also mirrored). Immutable; drawn from any number of threads at once.
class ProcgenAssets;

// The assets of `folder` (Procgen's data/assets/), loaded on first use and shared by every caller
// asking for the same folder (thread-safe). Throws InputError naming env.procgen_assets, and the
// missing or unreadable file, when the folder does not hold what the maze draws.
std::shared_ptr<const ProcgenAssets> load_procgen_assets(const std::string& folder);

// Draws one frame. `mouse.facing_left` false is Procgen's is_reflected (the sprite, which faces
// left, mirrored). rgb: 64 * 64 * 3 bytes, row-major, the top row first.
void draw_procgen_frame(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse, uint8_t* rgb);

// The same frame as an observation: channel-major (3, 64, 64) floats, pixel / 255.
void draw_procgen_observation(const ProcgenAssets& assets, const MazeLayout& layout, const MouseState& mouse,
                              float* chw);

}  // namespace shardlab::maze
