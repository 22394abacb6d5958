// Vector fields: the policy's move probabilities with the mouse on every free cell of a maze
// (one batched forward pass), optionally under patches, drawn as arrows over the maze.
#pragma once

#include <ATen/Tensor.h>

#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

struct VectorField {
  MazeLayout layout;
  std::vector<Cell> cells;  // the cells with an arrow
  at::Tensor probs;         // (cells, 5): left, down, up, right, no-op
};

// Which cells get an arrow: as procgen-tools draws them, every free cell of the maze but the
// cheese's (the mouse never stands on the cheese: the episode has ended), or every free cell.
enum class VectorFieldCells { kReference, kAllFree };

VectorField vector_field(const MazePolicy& policy, const MazeLayout& layout, ActivationTaps* taps = nullptr,
                         VectorFieldCells cells = VectorFieldCells::kReference);

// A patch written on the command line, applied to `layout`'s forward passes:
//   cheese-vector:LAYER:COEFF      add COEFF x this maze's cheese vector
//   top-right-vector:LAYER:COEFF   add COEFF x this maze's top-right vector
//   channel:LAYER:C:VALUE:X:Y      set channel C to VALUE at the position of world cell (X, Y)
//   zero:LAYER:C1,C2,...           set those channels to 0 everywhere
// InputError naming the text on anything malformed, unknown layers and channels out of range.
void add_patch_from_text(const MazePolicy& policy, const MazeLayout& layout, const std::string& text,
                         ActivationTaps& taps);

// An SVG figure of original / patched / patched minus original side by side, captioned (one
// panel without `patched`); `patch`: the patches as given, for the title (empty: none).
void draw_vector_fields(const VectorField& original, const VectorField* patched, const std::string& patch,
                        const std::string& svg_path);

}  // namespace shardlab::analysis
