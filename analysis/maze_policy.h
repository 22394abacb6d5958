// A trained maze policy as the studies use it: build inputs from edited mazes (cheese moved or
// removed, mouse anywhere), run the network with activation taps, and read the policy as
// probabilities of the five moves (left, down, up, right, no-op; procgen-tools sums Procgen's
// 15 actions into these). See ../shared/reference/studies.md for the vocabulary.
#pragma once

#include <ATen/Tensor.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agents/activation_taps.h"
#include "agents/checkpoint.h"
#include "core/spec.h"
#include "envs/maze/maze_env.h"

namespace shardlab::analysis {

using maze::Cell;
using maze::MazeLayout;

// One network input: a maze and where the mouse stands in it.
struct MazeInput {
  MazeLayout layout;
  Cell mouse;
};

// Probabilities of the compact moves (batch, 5) and state values (batch,).
struct MoveProbabilities {
  at::Tensor probs;
  at::Tensor value;
};

// Inputs per forward pass where a study runs many (every cell of every maze, every target's
// path): bounds memory on big networks. An imported 64/128/128 network's block1 output is ~1 MB
// per 64x64 procgen_rgb input, so 10^4 inputs in one pass would take tens of GB.
constexpr int64_t kMaxBatch = 256;

// What a study runs on one chunk [begin, end) of its inputs, given the chunk's observations: one
// (end - begin, ...) tensor per quantity. A patch that reads per-input data must read elements
// [begin, end) of it: batch element b of the chunk is input begin + b.
using ChunkPasses = std::function<std::vector<at::Tensor>(const at::Tensor& observations, int64_t begin, int64_t end)>;

// The compact move (maze::kLeft, ...) that steps from `from` to the neighbouring cell `to`.
int move_between(Cell from, Cell to);

class MazePolicy {
 public:
  // Loads a checkpoint (or a run folder's newest) and the maze spec it was trained on, with
  // `overrides` (env.* keys) applied. InputError if the checkpoint is not a maze policy.
  static MazePolicy load(const std::string& run_or_checkpoint, const SpecSchema& schema,
                         const std::vector<std::string>& overrides);

  const std::string& checkpoint() const { return policy_.path; }
  const Spec& spec() const { return *spec_; }
  const maze::MazeConfig& maze_config() const { return config_; }
  int world_size() const { return config_.world_size; }
  const std::vector<std::string>& layers() const { return policy_.net->layer_names(); }
  // Layers whose activation is (channels, h, w).
  std::vector<std::string> spatial_layers() const;
  // An activation's shape without the batch dimension. InputError naming the layer and the
  // known layers if there is no such layer.
  std::vector<int64_t> layer_shape(const std::string& layer) const;

  // Checks that `layer` is spatial and every channel is in range; InputError naming the first
  // channel out of range and the layer's range.
  void check_channels(const std::string& layer, const std::vector<int64_t>& channels) const;

  // The level of this seed under the spec's placement and distribution, or nothing when its maze
  // size is outside env.min_maze_size..env.max_maze_size (the policy never trained on it).
  std::optional<MazeLayout> level(uint32_t seed) const;

  // Network inputs, prepared as in training (normalised if the run normalised them).
  at::Tensor observations(const std::vector<MazeInput>& inputs) const;
  // The same from observations an environment wrote (rows of the network's observation size).
  at::Tensor prepare(const float* raw, int64_t rows) const { return policy_.prepare(raw, rows); }
  // One forward pass; taps (may be null) record and patch activations. Always libtorch's
  // convolutions, the taps' path, so an edited and an unedited pass do the same arithmetic.
  MoveProbabilities forward(const at::Tensor& observations, ActivationTaps* taps = nullptr) const;
  // The same with autograd recording, for attributions that need gradients (analysis/pushes.h);
  // the network's own parameters are not changed.
  MoveProbabilities forward_with_grad(const at::Tensor& observations, ActivationTaps* taps) const;
  MoveProbabilities forward(const std::vector<MazeInput>& inputs, ActivationTaps* taps = nullptr) const;
  // Runs `passes` on consecutive chunks of at most `max_batch` inputs (observations built per
  // chunk) and concatenates each quantity over the chunks: the numbers of one pass over every
  // input, in memory bounded by one chunk.
  std::vector<at::Tensor> in_chunks(const std::vector<MazeInput>& inputs, const ChunkPasses& passes,
                                    int64_t max_batch = kMaxBatch) const;
  // The activations of `layer` for these inputs (batch, ...), `max_batch` inputs per forward pass.
  at::Tensor activations(const std::vector<MazeInput>& inputs, const std::string& layer,
                         int64_t max_batch = kMaxBatch) const;

  // The activation position (row, column) that covers a world cell in a spatial layer
  // (analysis::activation_position).
  std::pair<int64_t, int64_t> activation_position(const std::string& layer, Cell cell) const;

 private:
  LoadedPolicy policy_;
  std::optional<Spec> spec_;
  maze::MazeConfig config_;
  at::Tensor to_moves_;  // (num_actions, 5): sums action probabilities into moves
  std::map<std::string, std::vector<int64_t>> shapes_;
};

// Each maze with the mouse at its start.
std::vector<MazeInput> at_start(const std::vector<MazeLayout>& layouts);
// The free cells of a maze, bottom row first, left to right in each row.
std::vector<Cell> free_cells(const MazeLayout& layout);

// The mazes of seeds [begin, end) that the policy can be studied on (see MazePolicy::level);
// `skipped` counts the others.
std::vector<MazeLayout> study_levels(const MazePolicy& policy, int64_t begin, int64_t end, int64_t* skipped = nullptr);

// The activation position (row, column) covering a world cell in a layer of spatial size h x w:
// row = floor((world_row_from_top + 0.5) * h / world_size), likewise columns (studies.md's rule
// for 64 x 64 input, written for any input that spans the world).
std::pair<int64_t, int64_t> activation_position(int world_size, int64_t h, int64_t w, Cell cell);

}  // namespace shardlab::analysis
