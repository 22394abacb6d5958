// PNG encoding for pictures a person opens: mazes, heatmaps, vector fields (embedded in SVG
// figures, media/figure.h) and `render`'s frames.
#pragma once

#include <string>

namespace shardlab {

// The PNG file of an RGB image given channel-major (3, height, width) floats in [0, 1] (clamped),
// 8 bits per channel, as bytes in memory. Throws Error if zlib fails.
std::string png_bytes(const float* chw, int height, int width);

// png_bytes written to `path`; through AtomicFile, so a failure leaves no partial file.
// Throws FileError.
void write_png(const std::string& path, const float* chw, int height, int width);

}  // namespace shardlab
