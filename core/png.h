// PNG output for pictures a person opens: mazes, heatmaps, vector fields.
#pragma once

#include <string>

namespace shardlab {

// Writes an RGB image given channel-major (3, height, width) floats in [0, 1] (clamped) as an
// 8-bit PNG. Written to a temporary name and renamed, so a failure leaves no partial file.
// Throws FileError.
void write_png(const std::string& path, const float* chw, int height, int width);

}  // namespace shardlab
