#include "agents/impala_direct.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "agents/impala_kernels.h"

namespace shardlab {
namespace {

using impala_kernels::kLanes;
using impala_kernels::Plane;
namespace kernels = impala_kernels;

constexpr int kConvs = 5;  // per stage: conv, res1.conv1, res1.conv2, res2.conv1, res2.conv2

// Shapes of the network's stages for one observation shape.
struct Stage {
  int64_t in = 0, out = 0, side_h = 0, side_w = 0, pooled_h = 0, pooled_w = 0;
  int64_t conv_floats() const { return conv(nullptr).size(); }
  int64_t pooled_floats() const { return pooled(nullptr).size(); }
  int64_t argmax_ints() const { return out * pooled_h * pooled_w * kLanes; }
  Plane input(float* p) const { return {p, in, side_h, side_w}; }
  Plane conv(float* p) const { return {p, out, side_h, side_w}; }
  Plane pooled(float* p) const { return {p, out, pooled_h, pooled_w}; }
};

// One batch block's saved activations: the input, then per stage its pooling's argmax and the
// ReLU outputs feeding each residual convolution (A1, B1, A2, B2) and the stage's output R2.
struct Layout {
  std::vector<Stage> stages;
  int64_t floats_per_block = 0, ints_per_block = 0;
  std::vector<int64_t> saved_at, argmax_at;  // per stage: A1's offset; argmax's offset
  int64_t features = 0;

  Layout(int64_t channels, int64_t height, int64_t width, const std::vector<at::Tensor>& params) {
    int64_t in = channels, h = height, w = width;
    floats_per_block = Plane{nullptr, in, h, w}.size();
    for (size_t i = 0; i < params.size(); i += 2 * kConvs) {
      Stage s{in, params[i].size(0), h, w, (h + 1) / 2, (w + 1) / 2};
      saved_at.push_back(floats_per_block);
      argmax_at.push_back(ints_per_block);
      floats_per_block += 5 * s.pooled_floats();
      ints_per_block += s.argmax_ints();
      stages.push_back(s);
      in = s.out, h = s.pooled_h, w = s.pooled_w;
    }
    features = in * h * w;
  }
  Plane input(float* block) const { return stages.front().input(block); }
  // k: 0 A1, 1 B1, 2 A2, 3 B2, 4 R2.
  Plane saved(float* block, size_t stage, int k) const {
    return stages[stage].pooled(block + saved_at[stage] + k * stages[stage].pooled_floats());
  }
};

// g *= (mask > 0)
void mask_by(const Plane& g, const Plane& mask) {
  for (int64_t i = 0; i < g.size(); ++i) g.data[i] = mask.data[i] > 0.0f ? g.data[i] : 0.0f;
}
// The weights of every convolution, arranged for the kernels (forward and input-gradient forms).
struct Weights {
  std::vector<std::vector<float>> forward, backward, bias;
  explicit Weights(const std::vector<at::Tensor>& params, bool with_backward) {
    for (size_t i = 0; i < params.size(); i += 2) {
      const at::Tensor w = params[i].detach().contiguous();
      const int64_t out = w.size(0), in = w.size(1);
      forward.emplace_back(w.numel());
      kernels::arrange_weights(w.data_ptr<float>(), out, in, true, forward.back().data());
      if (with_backward) {
        backward.emplace_back(w.numel());
        kernels::arrange_weights(w.data_ptr<float>(), out, in, false, backward.back().data());
      }
      const at::Tensor b = params[i + 1].detach().contiguous();
      bias.emplace_back(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
    }
  }
};

// Per stage, scratch planes of one chunk of blocks: never shared between stages, so a plane's
// border, which only elementwise steps write and only with zeros, stays zero.
struct Scratch {
  std::vector<std::vector<float>> stages;
  explicit Scratch(const Layout& layout) {
    for (const Stage& st : layout.stages) stages.emplace_back(st.conv_floats() + 3 * st.pooled_floats(), 0.0f);
  }
  // k-th pooled-size plane of stage s (0..2), or its conv-size plane.
  Plane pooled(const Layout& layout, size_t s, int k) {
    const Stage& st = layout.stages[s];
    return st.pooled(stages[s].data() + st.conv_floats() + k * st.pooled_floats());
  }
  Plane conv(const Layout& layout, size_t s) { return layout.stages[s].conv(stages[s].data()); }
};

// Forward of one block: `block` (its input filled in) gets every saved activation.
void forward_block(const Layout& layout, const Weights& weights, float* block, int32_t* argmax, Scratch& scratch) {
  Plane x = layout.input(block);
  for (size_t s = 0; s < layout.stages.size(); ++s) {
    const Plane c = scratch.conv(layout, s), p = scratch.pooled(layout, s, 0);
    const Plane r1 = scratch.pooled(layout, s, 1);
    const Plane a1 = layout.saved(block, s, 0), b1 = layout.saved(block, s, 1);
    const Plane a2 = layout.saved(block, s, 2), b2 = layout.saved(block, s, 3), r2 = layout.saved(block, s, 4);
    for (const Plane& written : {a1, b1, a2, b2, r2}) kernels::zero_border(written);  // the scratch's stay zero
    const size_t w = s * kConvs;
    const auto conv = [&](const Plane& in, size_t k, const Plane& out, const kernels::Epilogue& then) {
      kernels::conv3x3(in, weights.forward[w + k].data(), weights.bias[w + k].data(), out, then);
    };
    conv(x, 0, c, {});
    kernels::max_pool3x3(c, p, argmax + layout.argmax_at[s], &a1);  // A1 = relu(P)
    conv(a1, 1, b1, {nullptr, nullptr, true});
    conv(b1, 2, r1, {nullptr, &p, false, &a2});  // A2 = relu(R1)
    conv(a2, 3, b2, {nullptr, nullptr, true});
    conv(b2, 4, r2, {nullptr, &r1, false});
    x = r2;
  }
}

// The observations of samples [first, first + kLanes) into a block's input (missing samples zero).
void fill_input(const Layout& layout, const float* obs, int64_t batch, int64_t first, float* block) {
  const Plane x = layout.input(block);
  kernels::zero_border(x);
  const int64_t per_sample = x.channels * x.height * x.width, lanes = std::min(kLanes, batch - first);
  const float* o = obs + first * per_sample;
  for (int64_t c = 0; c < x.channels; ++c)
    for (int64_t y = 0; y < x.height; ++y)
      for (int64_t xx = 0; xx < x.width; ++xx, ++o) {
        float* pixel = x.at(c, y, xx);
        for (int64_t lane = 0; lane < lanes; ++lane) pixel[lane] = o[lane * per_sample];
        std::fill(pixel + lanes, pixel + kLanes, 0.0f);
      }
}

// Runs `body(first_block, end_block, chunk)` over `chunks` fixed ranges of blocks on torch's threads.
template <class Body>
void over_chunks(int64_t blocks, int64_t chunks, const Body& body) {
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) body(k * blocks / chunks, (k + 1) * blocks / chunks, k);
  });
}

struct Saved {
  at::Tensor activations, argmax;  // (blocks, floats_per_block), (blocks, ints_per_block)
};

at::Tensor run_forward(const at::Tensor& obs, const std::vector<at::Tensor>& params, Saved* saved) {
  RECORD_USER_SCOPE("shardlab::impala_direct_forward");
  const at::Tensor x = obs.contiguous();
  const int64_t batch = x.size(0), blocks = (batch + kLanes - 1) / kLanes;
  const Layout layout(x.size(1), x.size(2), x.size(3), params);
  const Weights weights(params, false);
  const int64_t chunks = std::min<int64_t>(blocks, at::get_num_threads());
  // Not zeroed: fill_input and forward_block zero each plane's border.
  at::Tensor activations = at::empty({blocks, layout.floats_per_block});
  at::Tensor argmax = at::empty({blocks, std::max<int64_t>(layout.ints_per_block, 1)}, at::kInt);
  at::Tensor features = at::empty({batch, layout.features});
  const Stage& last = layout.stages.back();
  // Raw pointers, not tensors indexed per block: a tensor view costs a microsecond or two, and a
  // minibatch of 1,024 samples took 2,300 of them (3% of the demo's update).
  const float* obs_data = x.data_ptr<float>();
  float* activations_data = activations.data_ptr<float>();
  int32_t* argmax_data = argmax.data_ptr<int32_t>();
  float* features_data = features.data_ptr<float>();
  over_chunks(blocks, chunks, [&](int64_t first, int64_t end, int64_t) {
    Scratch scratch(layout);
    for (int64_t b = first; b < end; ++b) {
      float* block = activations_data + b * activations.size(1);
      fill_input(layout, obs_data, batch, b * kLanes, block);
      forward_block(layout, weights, block, argmax_data + b * argmax.size(1), scratch);
      const Plane r2 = layout.saved(block, layout.stages.size() - 1, 4);
      for (int64_t lane = 0; lane < kLanes && b * kLanes + lane < batch; ++lane) {
        float* f = features_data + (b * kLanes + lane) * layout.features;
        for (int64_t c = 0; c < last.out; ++c)
          for (int64_t y = 0; y < last.pooled_h; ++y)
            for (int64_t xx = 0; xx < last.pooled_w; ++xx) *f++ = std::max(r2.at(c, y, xx)[lane], 0.0f);
      }
    }
  });
  if (saved) *saved = {activations, argmax};
  return features;
}

// Blocks whose backward goes through a stage together, layer by layer, when the stage's planes are
// small: each weight gradient then takes all of them in one call, its per-lane sums kept in
// registers (a 2x2 plane gives each sum only 4 multiply-adds a block). The sums take the blocks in
// the same order as block by block, so the gradients keep every bit.
constexpr int64_t kGroup = 4;
bool grouped(const Stage& st) { return st.pooled_h * st.pooled_w <= 16; }

// Backward of stage s for n blocks (block[i], its argmax, its scratch), given the gradient of the
// stage's output R2 in each scratch's plane 0 of the stage: adds each convolution's weight and bias
// gradients (per lane) at `acc`, and leaves the gradient of the stage's input in plane 0 of the
// stage before (none for the first).
void backward_stage(const Layout& layout, const Weights& weights, size_t s, float* const* block,
                    const int32_t* const* argmax, Scratch* scratch, int64_t n, const std::vector<float*>& acc) {
  const Stage& st = layout.stages[s];
  const size_t w = s * kConvs;
  const auto planes = [&](const auto& plane_of) {
    std::array<Plane, kGroup> p;
    for (int64_t i = 0; i < n; ++i) p[i] = plane_of(i);
    return p;
  };
  const auto saved = [&](int k) { return planes([&](int64_t i) { return layout.saved(block[i], s, k); }); };
  const auto pooled = [&](int k) { return planes([&](int64_t i) { return scratch[i].pooled(layout, s, k); }); };
  const auto a1 = saved(0), b1 = saved(1), a2 = saved(2), b2 = saved(3);
  const auto g_r = pooled(0), g_t = pooled(1), g_r1 = pooled(2);
  const auto g_c = planes([&](int64_t i) { return scratch[i].conv(layout, s); });
  const auto x = planes([&](int64_t i) { return s == 0 ? layout.input(block[i]) : layout.saved(block[i], s - 1, 4); });
  const auto weight_grad = [&](const std::array<Plane, kGroup>& in, const std::array<Plane, kGroup>& g, size_t conv) {
    kernels::conv3x3_weight_grad(in.data(), g.data(), n, acc[conv], acc[conv] + st.out * in[0].channels * 9 * kLanes);
  };
  const auto input_grad = [&](const std::array<Plane, kGroup>& g, size_t k, const std::array<Plane, kGroup>& out,
                              const std::array<Plane, kGroup>& mask, const std::array<Plane, kGroup>* add) {
    for (int64_t i = 0; i < n; ++i)
      kernels::conv3x3(g[i], weights.backward[w + k].data(), nullptr, out[i],
                       {&mask[i], add ? &(*add)[i] : nullptr, false});
  };
  // res2: R2 = conv(relu(conv(relu(R1)))) + R1
  weight_grad(b2, g_r, w + 4);
  input_grad(g_r, 4, g_t, b2, nullptr);
  weight_grad(a2, g_t, w + 3);
  input_grad(g_t, 3, g_r1, a2, &g_r);
  // res1: R1 = conv(relu(conv(relu(P)))) + P; P's gradient goes to g_r
  weight_grad(b1, g_r1, w + 2);
  input_grad(g_r1, 2, g_t, b1, nullptr);
  weight_grad(a1, g_t, w + 1);
  input_grad(g_t, 1, g_r, a1, &g_r1);
  // P = max_pool(conv(X))
  for (int64_t i = 0; i < n; ++i) {
    std::fill(g_c[i].data, g_c[i].data + g_c[i].size(), 0.0f);
    kernels::max_pool3x3_grad(g_r[i], argmax[i] + layout.argmax_at[s], g_c[i]);
  }
  weight_grad(x, g_c, w);
  if (s > 0)
    for (int64_t i = 0; i < n; ++i)
      kernels::conv3x3(g_c[i], weights.backward[w].data(), nullptr, scratch[i].pooled(layout, s - 1, 0), {});
}

std::vector<at::Tensor> run_backward(const at::Tensor& obs, const std::vector<at::Tensor>& params,
                                     const at::Tensor& activations, const at::Tensor& argmax,
                                     const at::Tensor& features_grad) {
  RECORD_USER_SCOPE("shardlab::impala_direct_backward");
  const int64_t batch = obs.size(0), blocks = activations.size(0);
  const Layout layout(obs.size(1), obs.size(2), obs.size(3), params);
  const Weights weights(params, true);
  const int64_t chunks = std::min<int64_t>(blocks, at::get_num_threads());
  // Per chunk, per convolution: weight gradients [out][in][9][lanes], then bias gradients [out][lanes].
  std::vector<int64_t> offset = {0};
  for (size_t i = 0; i < params.size(); i += 2)
    offset.push_back(offset.back() + (params[i].numel() + params[i].size(0)) * kLanes);
  const at::Tensor acc = at::zeros({chunks, offset.back()});
  const at::Tensor g = features_grad.contiguous();
  const size_t last = layout.stages.size() - 1;
  const Stage& top = layout.stages[last];
  float* activations_data = activations.data_ptr<float>();
  const int32_t* argmax_data = argmax.data_ptr<int32_t>();
  const float* g_data = g.data_ptr<float>();
  float* acc_data = acc.data_ptr<float>();
  over_chunks(blocks, chunks, [&](int64_t first, int64_t end, int64_t chunk) {
    std::vector<Scratch> scratch(kGroup, Scratch(layout));
    std::vector<float*> at_conv;
    for (size_t j = 0; j + 1 < offset.size(); ++j) at_conv.push_back(acc_data + chunk * offset.back() + offset[j]);
    for (int64_t b0 = first; b0 < end; b0 += kGroup) {
      const int64_t n = std::min(kGroup, end - b0);
      std::array<float*, kGroup> block{};
      std::array<const int32_t*, kGroup> block_argmax{};
      for (int64_t i = 0; i < n; ++i) {
        const int64_t b = b0 + i;
        block[i] = activations_data + b * activations.size(1);
        block_argmax[i] = argmax_data + b * argmax.size(1);
        const Plane g_r = scratch[i].pooled(layout, last, 0);
        std::fill(g_r.data, g_r.data + g_r.size(), 0.0f);
        for (int64_t lane = 0; lane < kLanes && b * kLanes + lane < batch; ++lane) {
          const float* f = g_data + (b * kLanes + lane) * layout.features;
          for (int64_t c = 0; c < top.out; ++c)
            for (int64_t y = 0; y < top.pooled_h; ++y)
              for (int64_t x = 0; x < top.pooled_w; ++x) g_r.at(c, y, x)[lane] = *f++;
        }
        mask_by(g_r, layout.saved(block[i], last, 4));  // the final ReLU
      }
      for (size_t s = layout.stages.size(); s-- > 0;) {
        if (grouped(layout.stages[s])) {
          backward_stage(layout, weights, s, block.data(), block_argmax.data(), scratch.data(), n, at_conv);
        } else {
          for (int64_t i = 0; i < n; ++i)
            backward_stage(layout, weights, s, &block[i], &block_argmax[i], &scratch[i], 1, at_conv);
        }
      }
    }
  });
  // Summed over chunks, then over lanes, in a fixed order.
  const at::Tensor per_lane = acc.sum(0);
  std::vector<at::Tensor> grads;
  for (size_t i = 0, j = 0; i < params.size(); i += 2, ++j) {
    const int64_t weight_floats = params[i].numel() * kLanes;
    const at::Tensor slice = per_lane.slice(0, offset[j], offset[j + 1]);
    grads.push_back(slice.slice(0, 0, weight_floats).view({-1, kLanes}).sum(1).view(params[i].sizes()));
    grads.push_back(slice.slice(0, weight_floats).view({-1, kLanes}).sum(1).view(params[i + 1].sizes()));
  }
  return grads;
}

struct ImpalaDirectFunction : torch::autograd::Function<ImpalaDirectFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& obs, at::TensorList params) {
    const std::vector<at::Tensor> list(params.begin(), params.end());
    Saved saved;
    at::Tensor features = run_forward(obs, list, &saved);
    std::vector<at::Tensor> to_save = {obs, saved.activations, saved.argmax};
    to_save.insert(to_save.end(), list.begin(), list.end());
    ctx->save_for_backward(to_save);
    return features;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> params(saved.begin() + 3, saved.end());
    torch::autograd::variable_list out = {at::Tensor()};  // no gradient for the observations
    for (at::Tensor& g : run_backward(saved[0], params, saved[1], saved[2], grads[0])) out.push_back(std::move(g));
    return out;
  }
};

}  // namespace

at::Tensor impala_direct_features(const at::Tensor& obs, const std::vector<at::Tensor>& params) {
  TORCH_CHECK(obs.dim() == 4 && obs.scalar_type() == at::kFloat && obs.device().is_cpu(),
              "impala_direct_features: expected (batch, channels, height, width) float on the CPU");
  TORCH_CHECK(!params.empty() && params.size() % (2 * kConvs) == 0, "impala_direct_features: 10 tensors a stage");
  const bool differentiable =
      at::GradMode::is_enabled() &&
      std::any_of(params.begin(), params.end(), [](const at::Tensor& p) { return p.requires_grad(); });
  if (!differentiable) return run_forward(obs, params, nullptr);
  return ImpalaDirectFunction::apply(obs, at::TensorList(params));
}

}  // namespace shardlab
