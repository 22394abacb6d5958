#include "analysis/maze_policy.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "agents/run_dir.h"
#include "core/error.h"
#include "core/progress.h"
#include "envs/maze/maze_generator.h"

namespace shardlab::analysis {

int move_between(Cell from, Cell to) {
  const int dx = to.x - from.x, dy = to.y - from.y;
  if (dx == -1 && dy == 0) return maze::kLeft;
  if (dx == 1 && dy == 0) return maze::kRight;
  if (dx == 0 && dy == -1) return maze::kDown;
  if (dx == 0 && dy == 1) return maze::kUp;
  throw std::logic_error("move_between: cells are not neighbours");
}

MazePolicy MazePolicy::load(const std::string& run_or_checkpoint, const SpecSchema& schema,
                            const std::vector<std::string>& overrides) {
  MazePolicy p;
  p.policy_ = load_policy(resolve_checkpoint(run_or_checkpoint), schema);
  p.spec_ = Spec::from_text(schema, p.policy_.spec_ini, p.policy_.path + " (spec)", overrides);
  if (p.spec_->get_string("env.name") != "maze")
    throw InputError(p.policy_.path + ": a policy for '" + p.spec_->get_string("env.name") +
                     "', the maze studies need a maze policy");
  p.config_ = maze::MazeConfig::from_spec(*p.spec_);
  const int64_t num_actions = p.policy_.net->action_spec().num_actions;
  p.to_moves_ = torch::zeros({num_actions, maze::kNumCompactActions});
  for (int64_t a = 0; a < num_actions; ++a) {
    const int move =
        num_actions == maze::kNumProcgenActions ? maze::compact_action_of(static_cast<int>(a)) : static_cast<int>(a);
    p.to_moves_[a][move] = 1.0f;
  }
  // Every activation's shape, from one forward pass on the start of some level.
  maze::MazeEnv env(p.config_, 0);
  ActivationTaps taps;
  taps.record_all();
  p.forward(std::vector<MazeInput>{{env.layout(), env.layout().start}}, &taps);
  for (const auto& [name, a] : taps.recorded()) p.shapes_[name] = a.sizes().slice(1).vec();
  return p;
}

std::vector<std::string> MazePolicy::spatial_layers() const {
  std::vector<std::string> out;
  for (const auto& name : layers())
    if (shapes_.at(name).size() == 3) out.push_back(name);
  return out;
}

std::vector<int64_t> MazePolicy::layer_shape(const std::string& layer) const {
  const auto it = shapes_.find(layer);
  if (it != shapes_.end()) return it->second;
  std::ostringstream known;
  for (const auto& name : layers()) known << ' ' << name;
  throw InputError("unknown layer '" + layer + "'; the network's layers are:" + known.str());
}

void MazePolicy::check_channels(const std::string& layer, const std::vector<int64_t>& channels) const {
  const auto shape = layer_shape(layer);
  if (shape.size() != 3)
    throw InputError("layer " + layer + " is not spatial (its activation is not channels x h x w)");
  for (int64_t ch : channels)
    if (ch < 0 || ch >= shape[0])
      throw InputError("channel " + std::to_string(ch) + " out of range: layer " + layer + " has channels 0.." +
                       std::to_string(shape[0] - 1));
}

std::optional<MazeLayout> MazePolicy::level(uint32_t seed) const {
  if (!config_.keeps_maze_dim(maze::maze_dim_of(seed, config_.world_size))) return std::nullopt;
  return maze::generate_maze(seed, config_.world_size, config_.placement);
}

at::Tensor MazePolicy::observations(const std::vector<MazeInput>& inputs) const {
  maze::MazeEnv env(config_, 0);
  const int64_t size = policy_.net->observation_spec().size();
  std::vector<float> obs(inputs.size() * size);
  for (size_t i = 0; i < inputs.size(); ++i) {
    env.set_layout(inputs[i].layout);
    env.place_mouse(inputs[i].mouse);
    env.write_observation(&obs[i * size]);
  }
  return policy_.prepare(obs.data(), static_cast<int64_t>(inputs.size()));
}

MoveProbabilities MazePolicy::forward(const at::Tensor& observations, ActivationTaps* taps) const {
  torch::NoGradGuard no_grad;  // inference only
  return forward_with_grad(observations, taps);
}

MoveProbabilities MazePolicy::forward_with_grad(const at::Tensor& observations, ActivationTaps* taps) const {
  // Always through the taps (libtorch's convolutions, even with agent.conv = direct): a study
  // compares an edited pass with an unedited one, and both must do the same arithmetic, or an edit
  // that changes nothing would show the two kernels' last-bit differences as an effect.
  ActivationTaps none;
  const PolicyOutput out = policy_.net.ptr()->forward(observations, taps ? taps : &none);
  return {torch::softmax(out.logits_or_mean, 1).matmul(to_moves_), out.value};
}

MoveProbabilities MazePolicy::forward(const std::vector<MazeInput>& inputs, ActivationTaps* taps) const {
  return forward(observations(inputs), taps);
}

std::vector<at::Tensor> MazePolicy::in_chunks(const std::vector<MazeInput>& inputs, const ChunkPasses& passes,
                                              int64_t max_batch) const {
  if (max_batch < 1) throw std::logic_error("MazePolicy::in_chunks: max_batch must be positive");
  const int64_t n = static_cast<int64_t>(inputs.size());
  std::vector<std::vector<at::Tensor>> parts;
  int64_t begin = 0;
  do {  // at least once: no inputs make one empty pass, as a single forward pass would
    const int64_t end = std::min(n, begin + max_batch);
    const std::vector<MazeInput> chunk(inputs.begin() + begin, inputs.begin() + end);
    std::vector<at::Tensor> quantities = passes(observations(chunk), begin, end);
    if (begin == 0) parts.resize(quantities.size());
    if (quantities.size() != parts.size())
      throw std::logic_error("MazePolicy::in_chunks: a chunk returned a different number of quantities");
    for (size_t q = 0; q < quantities.size(); ++q) parts[q].push_back(std::move(quantities[q]));
    begin = end;
  } while (begin < n);
  std::vector<at::Tensor> out;
  for (const auto& p : parts) out.push_back(p.size() == 1 ? p.front() : torch::cat(p));
  return out;
}

at::Tensor MazePolicy::activations(const std::vector<MazeInput>& inputs, const std::string& layer,
                                   int64_t max_batch) const {
  layer_shape(layer);  // checks the name
  return in_chunks(
             inputs,
             [&](const at::Tensor& obs, int64_t, int64_t) {
               ActivationTaps taps;
               taps.record(layer);
               forward(obs, &taps);
               return std::vector<at::Tensor>{taps.recorded().at(layer).contiguous()};
             },
             max_batch)
      .front()
      .contiguous();
}

std::pair<int64_t, int64_t> MazePolicy::activation_position(const std::string& layer, Cell cell) const {
  const std::vector<int64_t>& shape = layer_shape(layer);
  if (shape.size() != 3)
    throw InputError("layer '" + layer + "' is not spatial (its activation is not channels x h x w)");
  return analysis::activation_position(world_size(), shape[1], shape[2], cell);
}

std::vector<MazeInput> at_start(const std::vector<MazeLayout>& layouts) {
  std::vector<MazeInput> out;
  out.reserve(layouts.size());
  for (const auto& l : layouts) out.push_back({l, l.start});
  return out;
}

std::vector<Cell> free_cells(const MazeLayout& layout) {
  std::vector<Cell> out;
  for (int y = 0; y < layout.world_size; ++y)
    for (int x = 0; x < layout.world_size; ++x)
      if (layout.is_free({x, y})) out.push_back({x, y});
  return out;
}

std::vector<MazeLayout> study_levels(const MazePolicy& policy, int64_t begin, int64_t end, int64_t* skipped) {
  std::vector<MazeLayout> out;
  int64_t n_skipped = 0;
  Progress progress("mazes");
  for (int64_t seed = begin; seed < end; ++seed) {
    progress.update(seed - begin, end - begin, "");
    auto layout = policy.level(static_cast<uint32_t>(seed));
    if (layout)
      out.push_back(std::move(*layout));
    else
      ++n_skipped;
  }
  progress.settle(end - begin, end - begin, "");
  if (skipped) *skipped = n_skipped;
  return out;
}

std::pair<int64_t, int64_t> activation_position(int world_size, int64_t h, int64_t w, Cell cell) {
  const double n = world_size;
  const auto clamp = [](int64_t v, int64_t hi) { return std::max<int64_t>(0, std::min(v, hi - 1)); };
  return {clamp(static_cast<int64_t>(std::floor((n - 1 - cell.y + 0.5) * h / n)), h),
          clamp(static_cast<int64_t>(std::floor((cell.x + 0.5) * w / n)), w)};
}

}  // namespace shardlab::analysis
