// Activation logs: a policy's activations on a range of mazes, in one HDF5 file that h5py opens.
//
//   /mazes/grid         (N, W, W) uint8   0 free, 1 wall, 2 cheese, 3 mouse; row 0 = the top
//   /mazes/cheese       (N, 2) int32      cheese cell (x, y), y up; (-1, -1) when none
//   /mazes/mouse        (N, 2) int32      mouse cell
//   /mazes/level_seed   (N,) int64
//   /mazes/maze_dim     (N,) int32
//   /activations/<layer> (N, C, H, W) float32 (or (N, D) for dense layers), chunked one channel
//                       at a time so reading one channel of every maze reads nothing else
//   /policy/probs       (N, 5) float32    left, down, up, right, no-op
//   /policy/value       (N,) float32
// Root attributes: format = "shardlab activation log", version, checkpoint, spec (the resolved
// INI), layers (comma-separated), world_size, placement.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"
#include "core/hdf5_file.h"

namespace shardlab::analysis {

inline constexpr const char* kActivationLogFormat = "shardlab activation log";

struct RecordOptions {
  int64_t seed_begin = 0, seed_end = 100;
  std::vector<std::string> layers;  // empty: every layer
  bool mouse_everywhere = false;    // false: mouse at the start; true: one row per free cell
  bool force = false;               // overwrite an existing file
};

// Writes the log through a temporary file renamed at the end: a failure or a kill leaves any
// existing file untouched. Returns the number of rows.
int64_t record_activations(const MazePolicy& policy, const RecordOptions& options, const std::string& path,
                           const std::string& version);

// An activation log opened for reading. FileError (one line naming the file) if the file is not
// an activation log or is damaged.
class ActivationLog {
 public:
  static ActivationLog open(const std::string& path);
  const std::string& path() const { return file_.path(); }
  int64_t rows() const { return rows_; }
  int world_size() const { return world_size_; }
  const std::vector<std::string>& layers() const { return layers_; }
  // (C, H, W) or (D); InputError for a layer not in the log, naming the ones that are.
  std::vector<int64_t> layer_shape(const std::string& layer) const;
  // One channel of a spatial layer for every row: (N, H, W), row-major.
  Hdf5Array<float> channel(const std::string& layer, int64_t channel) const;
  // One row's activations of a layer.
  Hdf5Array<float> row(const std::string& layer, int64_t row) const;
  // The maze of one row (walls, cheese, mouse) and where the mouse stands.
  maze::MazeLayout maze(int64_t row, maze::Cell* mouse = nullptr) const;
  // Every row's cheese cell ((-1, -1) where there is none).
  std::vector<maze::Cell> cheese_cells() const;
  std::string attribute(const std::string& name) const { return file_.string_attribute("/", name); }

 private:
  explicit ActivationLog(Hdf5File file) : file_(std::move(file)) {}
  Hdf5File file_;
  int64_t rows_ = 0;
  int world_size_ = 0;
  std::vector<std::string> layers_;
};

// `shardlab inspect LOG --layer L`: per-channel statistics of a layer (mean, standard deviation,
// minimum, maximum, mean at the cheese's position and elsewhere) over every row, or of one
// channel; with `svg`, a figure of the channel's heatmap over maze `row` (or all channels as a
// grid, each captioned with its number), with a title and a colour scale.
std::string describe_layer(const ActivationLog& log, const std::string& layer, std::optional<int64_t> channel,
                           int64_t row, const std::string& svg);

}  // namespace shardlab::analysis
