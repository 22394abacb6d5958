// Steering the policy with activation vectors (../shared/reference/studies.md): the cheese
// vector (activations with the cheese minus without, mouse at the start), the top-right vector
// (with a corridor cut to the world's top-right corner minus the original), both measured by the
// policy's probabilities at the decision square.
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analysis/maze_policy.h"

namespace shardlab::analysis {

// The decision square of a maze and the moves it offers: onto the path to the cheese, onto the
// path to the maze's top-right cell.
struct DecisionSquare {
  Cell cell;
  int cheese_move = -1;
  int top_right_move = -1;
};
std::optional<DecisionSquare> find_decision_square(const MazeLayout& layout);

// The mazes of `levels` that have a decision square, each with it; `left_out` counts the others.
struct DecisionSquareMazes {
  std::vector<MazeLayout> mazes;
  std::vector<DecisionSquare> squares;
  int64_t left_out = 0;
};
DecisionSquareMazes decision_square_mazes(const std::vector<MazeLayout>& levels);

// The same maze without its cheese.
MazeLayout without_cheese(const MazeLayout& layout);
// The same maze with a corridor from its top-right cell up to the world's top row, then right to
// the world's top-right corner. Nothing when the maze fills the world (no room for a corridor).
std::optional<MazeLayout> with_top_right_corridor(const MazeLayout& layout);

// Activations at `layer` of `a` minus those of `b`, mouse at the start of each: (C, H, W).
at::Tensor activation_difference(const MazePolicy& policy, const std::string& layer, const MazeLayout& a,
                                 const MazeLayout& b);
at::Tensor cheese_vector(const MazePolicy& policy, const std::string& layer, const MazeLayout& layout);
at::Tensor top_right_vector(const MazePolicy& policy, const std::string& layer, const MazeLayout& layout);

// A random Gaussian tensor with the same shape and Euclidean norm as `like`.
at::Tensor random_vector_like(const at::Tensor& like, at::Generator& gen);

enum class SteeringVector { kCheese, kTopRight };

struct SteeringStudy {
  std::string layer = "embedder.block2.res1.resadd_out";
  SteeringVector vector = SteeringVector::kCheese;
  double coeff = -1.0;
  // Also add the other vector (cheese + top-right composition) with this coefficient.
  std::optional<double> compose_coeff;
  // Use the vector of this maze on every maze (transfer), instead of each maze's own.
  std::optional<uint32_t> transfer_from;
  uint64_t seed = 0;  // the random control's generator
};

// One maze's result: P(cheese | decision square) and P(top-right | decision square) without the
// vector, with it, and with a random vector of the same norm instead.
struct SteeringRow {
  uint32_t seed = 0;
  int maze_dim = 0;
  Cell decision_square, cheese;
  double vector_norm = 0;
  double p_cheese = 0, p_top_right = 0;
  double p_cheese_steered = 0, p_top_right_steered = 0;
  double p_cheese_random = 0, p_top_right_random = 0;
};

// Runs the study on every maze with a decision square (and, for the top-right vector, room for
// the corridor); the others are left out and counted in `skipped`.
std::vector<SteeringRow> run_steering(const MazePolicy& policy, const std::vector<MazeLayout>& levels,
                                      const SteeringStudy& study, int64_t* skipped = nullptr);

struct SteeringSummary {
  int64_t mazes = 0;
  double median_p_cheese = 0, median_p_cheese_steered = 0, median_p_cheese_random = 0;
  double median_p_top_right = 0, median_p_top_right_steered = 0, median_p_top_right_random = 0;
  int64_t cheese_rose = 0, cheese_fell = 0;        // steered vs unsteered P(cheese)
  int64_t top_right_rose = 0, top_right_fell = 0;  // steered vs unsteered P(top-right)
  double max_cheese_rise = 0;                      // largest rise of P(cheese), 0 if none rose
};
SteeringSummary summarize(const std::vector<SteeringRow>& rows);

double median(std::vector<double> values);

}  // namespace shardlab::analysis
