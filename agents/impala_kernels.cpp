#include "agents/impala_kernels.h"

#include <immintrin.h>

#include <atomic>
#include <cstring>
#include <limits>

namespace shardlab::impala_kernels {
namespace {

// GCC's vector extensions: 16 floats (one AVX-512 register) or 8 (one AVX2 register). Every
// kernel is a template over the vector; an 8-lane vector covers a block's 16 samples in two
// passes (lane offsets 0 and 8). `a += b * c` is one fused multiply-add (this file is compiled
// with -ffp-contract=fast).
using Float16 = float __attribute__((vector_size(64)));
using Float8 = float __attribute__((vector_size(32)));
using Int16 = int32_t __attribute__((vector_size(64)));
using Int8 = int32_t __attribute__((vector_size(32)));

template <class V>
__attribute__((always_inline)) inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
__attribute__((always_inline)) inline void store(void* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}
// libtorch's ReLU: a NaN stays NaN (`v <= 0` is false for it). Written as one comparison and one
// select: GCC 12 turns `(v > 0) | (v != v)` on 16-float vectors into 16 scalar comparisons.
template <class V>
__attribute__((always_inline)) inline V relu(const V& v) {
  return (v <= V{}) ? V{} : v;
}

// CB output channels x PX pixels of one row, in registers: each input vector loaded once per
// (input channel, kernel row) serves the three kernel columns and all CB channels.
template <class V, int CB, int PX>
__attribute__((always_inline)) inline void conv_tile(const Plane& in, const float* w, int64_t outs, int64_t co0,
                                                     const float* bias, const Plane& out, const Epilogue& then,
                                                     int64_t y, int64_t x0, int64_t lane) {
  V acc[CB][PX];
  for (int c = 0; c < CB; ++c) {
    const float b = bias ? bias[co0 + c] : 0.0f;
    for (int p = 0; p < PX; ++p) acc[c][p] = V{} + b;
  }
  for (int64_t ci = 0; ci < in.channels; ++ci)
    for (int ky = 0; ky < 3; ++ky) {
      const float* src = in.at(ci, y + ky - 1, x0 - 1) + lane;
      V v[PX + 2];
      for (int p = 0; p < PX + 2; ++p) v[p] = load<V>(src + p * kLanes);
      const float* wk = w + (ci * 9 + ky * 3) * outs + co0;
      for (int kx = 0; kx < 3; ++kx)
        for (int c = 0; c < CB; ++c) {
          const V wv = V{} + wk[kx * outs + c];
          for (int p = 0; p < PX; ++p) acc[c][p] += wv * v[p + kx];
        }
    }
  for (int c = 0; c < CB; ++c)
    for (int p = 0; p < PX; ++p) {
      float* dst = out.at(co0 + c, y, x0 + p) + lane;
      const int64_t at = dst - out.data;
      V v = acc[c][p];
      if (then.mask) v = load<V>(then.mask->data + at) > V{} ? v : V{};
      if (then.add) v += load<V>(then.add->data + at);
      if (then.relu) v = relu(v);
      store(dst, v);
      if (then.relu_copy) store(then.relu_copy->data + at, relu(v));
    }
}

// conv_tile with the pixel count chosen at run time (1..PX).
template <class V, int CB, int PX>
__attribute__((always_inline)) inline void conv_tile_n(int64_t px, const Plane& in, const float* w, int64_t outs,
                                                       int64_t co0, const float* bias, const Plane& out,
                                                       const Epilogue& then, int64_t y, int64_t x0, int64_t lane) {
  if constexpr (PX == 1) {
    conv_tile<V, CB, 1>(in, w, outs, co0, bias, out, then, y, x0, lane);
  } else {
    if (px == PX)
      conv_tile<V, CB, PX>(in, w, outs, co0, bias, out, then, y, x0, lane);
    else
      conv_tile_n<V, CB, PX - 1>(px, in, w, outs, co0, bias, out, then, y, x0, lane);
  }
}

// Every row of CB output channels; a row splits into equal runs of at most PX pixels.
template <class V, int CB, int PX>
__attribute__((always_inline)) inline void conv_channels(const Plane& in, const float* w, const float* bias,
                                                         const Plane& out, const Epilogue& then, int64_t co0,
                                                         int64_t lane) {
  const int64_t width = out.width, runs = (width + PX - 1) / PX;
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t r = 0, x0 = 0; r < runs; ++r) {
      const int64_t px = (width - x0 + runs - r - 1) / (runs - r);
      conv_tile_n<V, CB, PX>(px, in, w, out.channels, co0, bias, out, then, y, x0, lane);
      x0 += px;
    }
}

template <class V, int CB, int PX>
__attribute__((always_inline)) inline void conv3x3_impl(const Plane& in, const float* w, const float* bias,
                                                        const Plane& out, const Epilogue& then) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t lane = 0; lane < kLanes; lane += lanes) {
    int64_t co0 = 0;
    for (; co0 + CB <= out.channels; co0 += CB) conv_channels<V, CB, PX>(in, w, bias, out, then, co0, lane);
    for (; co0 < out.channels; ++co0) conv_channels<V, 1, PX>(in, w, bias, out, then, co0, lane);
  }
}

// The weight gradient of CB output channels and one input channel: 9 x CB accumulators, one per
// lane, over every pixel, PX neighbouring pixels of a row at a time (their 3 x (PX + 2) input
// vectors are loaded once for all CB x 9 x PX multiply-adds). `g` points at the first output
// channel's first pixel (channels `g_channel` floats apart), `in` at the input's pixel up and to
// the left of it (rows `in_row` floats apart).
template <class V, int CB, int PX>
__attribute__((always_inline)) inline void weight_grad_pixels(const float* g, int64_t g_channel, const float* in,
                                                              int64_t in_row, V (&acc)[CB][9]) {
  V gv[CB][PX];
  for (int c = 0; c < CB; ++c)
    for (int p = 0; p < PX; ++p) gv[c][p] = load<V>(g + c * g_channel + p * kLanes);
  for (int ky = 0; ky < 3; ++ky) {
    V v[PX + 2];
    for (int p = 0; p < PX + 2; ++p) v[p] = load<V>(in + ky * in_row + p * kLanes);
    for (int kx = 0; kx < 3; ++kx)
      for (int c = 0; c < CB; ++c)
        for (int p = 0; p < PX; ++p) acc[c][ky * 3 + kx] += gv[c][p] * v[p + kx];
  }
}

// The accumulators stay in registers over all `n` blocks (in[i], g[i] in order): for the small
// planes (2x2, 4x4) a block alone gives each of them only 4-16 multiply-adds per load and store.
// Each sum takes its terms in the same order as n calls of one block would: block by block, each
// in row-major pixel order.
template <class V, int CB>
__attribute__((always_inline)) inline void weight_grad_tile(const Plane* in, const Plane* g, int64_t n, int64_t co0,
                                                            int64_t ci, float* wgrad, int64_t lane) {
  V acc[CB][9];
  const int64_t ins = in[0].channels;
  const auto slot = [&](int c, int k) { return wgrad + (((co0 + c) * ins + ci) * 9 + k) * kLanes + lane; };
  for (int c = 0; c < CB; ++c)
    for (int k = 0; k < 9; ++k) acc[c][k] = load<V>(slot(c, k));
  for (int64_t i = 0; i < n; ++i) {
    const Plane x_plane = in[i], g_plane = g[i];
    const int64_t g_channel = g_plane.plane(), in_row = x_plane.row(), width = g_plane.width;
    for (int64_t y = 0; y < g_plane.height; ++y) {
      const float* gp = g_plane.at(co0, y, 0) + lane;
      const float* ip = x_plane.at(ci, y - 1, -1) + lane;
      int64_t x = 0;
      for (; x + 2 <= width; x += 2, gp += 2 * kLanes, ip += 2 * kLanes)
        weight_grad_pixels<V, CB, 2>(gp, g_channel, ip, in_row, acc);
      if (x < width) weight_grad_pixels<V, CB, 1>(gp, g_channel, ip, in_row, acc);
    }
  }
  for (int c = 0; c < CB; ++c)
    for (int k = 0; k < 9; ++k) store(slot(c, k), acc[c][k]);
}

template <class V, int CB>
__attribute__((always_inline)) inline void weight_grad_impl(const Plane* in, const Plane* g, int64_t n, float* wgrad,
                                                            float* bgrad) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  const int64_t ins = in[0].channels, outs = g[0].channels;
  for (int64_t lane = 0; lane < kLanes; lane += lanes) {
    for (int64_t ci = 0; ci < ins; ++ci) {
      int64_t co0 = 0;
      for (; co0 + CB <= outs; co0 += CB) weight_grad_tile<V, CB>(in, g, n, co0, ci, wgrad, lane);
      for (; co0 < outs; ++co0) weight_grad_tile<V, 1>(in, g, n, co0, ci, wgrad, lane);
    }
    for (int64_t co = 0; co < outs; ++co) {
      V acc = load<V>(bgrad + co * kLanes + lane);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t y = 0; y < g[i].height; ++y)
          for (int64_t x = 0; x < g[i].width; ++x) acc += load<V>(g[i].at(co, y, x) + lane);
      store(bgrad + co * kLanes + lane, acc);
    }
  }
}

// One window of a max-pooling (output pixel oy, ox; lanes from `lane`): a greater number wins, and
// so does a NaN, as in libtorch's max-pooling. On 16-float vectors GCC 12 turns `(v > best) |
// (v != v)` into 16 scalar comparisons, so the AVX-512 build has a max-pooling of its own, in
// intrinsics (max_pool_avx512 below).
template <class V, class I>
__attribute__((always_inline)) inline void pool_window(const Plane& in, int64_t c, int64_t oy, int64_t ox, int64_t lane,
                                                       V& best, I& index) {
  best = V{} - std::numeric_limits<float>::infinity();
  index = I{};
  for (int k = 0; k < 9; ++k) {
    const int64_t iy = 2 * oy - 1 + k / 3, ix = 2 * ox - 1 + k % 3;
    if (iy < 0 || ix < 0 || iy >= in.height || ix >= in.width) continue;
    const V v = load<V>(in.at(c, iy, ix) + lane);
    const I greater = (v > best) | (v != v);
    best = greater ? v : best;
    index = greater ? (I{} + k) : index;
  }
}

template <class V, class I>
__attribute__((always_inline)) inline void max_pool_impl(const Plane& in, const Plane& out, int32_t* argmax,
                                                         const Plane* relu_copy) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t c = 0; c < out.channels; ++c)
    for (int64_t oy = 0; oy < out.height; ++oy)
      for (int64_t ox = 0; ox < out.width; ++ox)
        for (int64_t lane = 0; lane < kLanes; lane += lanes) {
          V best;
          I index;
          pool_window(in, c, oy, ox, lane, best, index);
          store(out.at(c, oy, ox) + lane, best);
          if (relu_copy) store(relu_copy->at(c, oy, ox) + lane, relu(best));
          store(argmax + ((c * out.height + oy) * out.width + ox) * kLanes + lane, index);
        }
}

template <class V, class I>
__attribute__((always_inline)) inline void max_pool_grad_impl(const Plane& g, const int32_t* argmax,
                                                              const Plane& in_grad) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t oy = 0; oy < g.height; ++oy)
      for (int64_t ox = 0; ox < g.width; ++ox)
        for (int64_t lane = 0; lane < kLanes; lane += lanes) {
          const V gv = load<V>(g.at(c, oy, ox) + lane);
          const I index = load<I>(argmax + ((c * g.height + oy) * g.width + ox) * kLanes + lane);
          for (int k = 0; k < 9; ++k) {
            const int64_t iy = 2 * oy - 1 + k / 3, ix = 2 * ox - 1 + k % 3;
            if (iy < 0 || ix < 0 || iy >= in_grad.height || ix >= in_grad.width) continue;
            float* dst = in_grad.at(c, iy, ix) + lane;
            store(dst, load<V>(dst) + ((index == (I{} + k)) ? gv : V{}));
          }
        }
}

template <class V>
__attribute__((always_inline)) inline void zero_pixel(float* pixel) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  for (int64_t lane = 0; lane < kLanes; lane += lanes) store(pixel + lane, V{});
}
template <class V>
__attribute__((always_inline)) inline void zero_border_impl(const Plane& p) {
  for (int64_t c = 0; c < p.channels; ++c) {
    for (int64_t x = -1; x <= p.width; ++x) zero_pixel<V>(p.at(c, -1, x));
    for (int64_t y = 0; y < p.height; ++y) zero_pixel<V>(p.at(c, y, -1));
  }
  for (int64_t x = -1; x <= p.width; ++x) zero_pixel<V>(p.at(p.channels - 1, p.height, x));
}

// max_pool_impl for AVX-512, the window in intrinsics (see pool_window).
__attribute__((target("avx512f,fma"), noinline)) void max_pool_avx512(const Plane& in, const Plane& out,
                                                                      int32_t* argmax, const Plane* relu_copy) {
  for (int64_t c = 0; c < out.channels; ++c)
    for (int64_t oy = 0; oy < out.height; ++oy)
      for (int64_t ox = 0; ox < out.width; ++ox) {
        __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
        __m512i index = _mm512_setzero_si512();
        for (int k = 0; k < 9; ++k) {
          const int64_t iy = 2 * oy - 1 + k / 3, ix = 2 * ox - 1 + k % 3;
          if (iy < 0 || ix < 0 || iy >= in.height || ix >= in.width) continue;
          const __m512 v = _mm512_loadu_ps(in.at(c, iy, ix));
          const __mmask16 greater = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
          best = _mm512_mask_mov_ps(best, greater, v);
          index = _mm512_mask_mov_epi32(index, greater, _mm512_set1_epi32(k));
        }
        _mm512_storeu_ps(out.at(c, oy, ox), best);
        // relu: a NaN stays NaN (`v <= 0` is false for it)
        if (relu_copy)
          _mm512_storeu_ps(
              relu_copy->at(c, oy, ox),
              _mm512_mask_mov_ps(best, _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_setzero_ps()));
        _mm512_storeu_si512(argmax + ((c * out.height + oy) * out.width + ox) * kLanes, index);
      }
}

// The three builds of every kernel. Tiles: AVX-512 has 32 registers (4 channels x 5 pixels of
// accumulators + 7 inputs + 1 weight; 2 x 9 weight-gradient accumulators + 2 x 2 gradients + 4
// inputs), AVX2 16 (with 8-lane vectors).
#define SHARDLAB_KERNELS(SUFFIX, TARGET, V, I, CONV_CB, CONV_PX, GRAD_CB)                                    \
  TARGET void conv3x3_##SUFFIX(const Plane& in, const float* w, const float* bias, const Plane& out,         \
                               const Epilogue& then) {                                                       \
    conv3x3_impl<V, CONV_CB, CONV_PX>(in, w, bias, out, then);                                               \
  }                                                                                                          \
  TARGET void weight_grad_##SUFFIX(const Plane* in, const Plane* g, int64_t n, float* wgrad, float* bgrad) { \
    weight_grad_impl<V, GRAD_CB>(in, g, n, wgrad, bgrad);                                                    \
  }                                                                                                          \
  TARGET void max_pool_grad_##SUFFIX(const Plane& g, const int32_t* argmax, const Plane& in_grad) {          \
    max_pool_grad_impl<V, I>(g, argmax, in_grad);                                                            \
  }                                                                                                          \
  TARGET void zero_border_##SUFFIX(const Plane& p) { zero_border_impl<V>(p); }

SHARDLAB_KERNELS(avx512, __attribute__((target("avx512f,fma"), noinline)), Float16, Int16, 4, 5, 2)
SHARDLAB_KERNELS(avx2, __attribute__((target("avx2,fma"), noinline)), Float8, Int8, 4, 2, 1)
SHARDLAB_KERNELS(generic, __attribute__((noinline)), Float8, Int8, 2, 2, 1)
__attribute__((target("avx2,fma"), noinline)) void max_pool_avx2(const Plane& in, const Plane& out, int32_t* argmax,
                                                                 const Plane* relu_copy) {
  max_pool_impl<Float8, Int8>(in, out, argmax, relu_copy);
}
__attribute__((noinline)) void max_pool_generic(const Plane& in, const Plane& out, int32_t* argmax,
                                                const Plane* relu_copy) {
  max_pool_impl<Float8, Int8>(in, out, argmax, relu_copy);
}
#undef SHARDLAB_KERNELS

Isa best_isa() {
  static const Isa found = __builtin_cpu_supports("avx512f")                                 ? Isa::avx512
                           : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? Isa::avx2
                                                                                             : Isa::generic;
  return found;
}

std::atomic<Isa> selected{Isa::best};

Isa isa() {
  const Isa chosen = selected.load(std::memory_order_relaxed);
  return chosen == Isa::best ? best_isa() : chosen;
}

}  // namespace

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return best_isa() == Isa::avx512;
    case Isa::avx2:
      return best_isa() != Isa::generic;
    default:
      return true;
  }
}

void select_isa(Isa isa) { selected.store(isa_supported(isa) ? isa : Isa::best); }

void conv3x3(const Plane& in, const float* weights, const float* bias, const Plane& out, const Epilogue& then) {
  switch (isa()) {
    case Isa::avx512:
      return conv3x3_avx512(in, weights, bias, out, then);
    case Isa::avx2:
      return conv3x3_avx2(in, weights, bias, out, then);
    default:
      return conv3x3_generic(in, weights, bias, out, then);
  }
}

void conv3x3_weight_grad(const Plane* in, const Plane* out_grad, int64_t n, float* weight_grad, float* bias_grad) {
  switch (isa()) {
    case Isa::avx512:
      return weight_grad_avx512(in, out_grad, n, weight_grad, bias_grad);
    case Isa::avx2:
      return weight_grad_avx2(in, out_grad, n, weight_grad, bias_grad);
    default:
      return weight_grad_generic(in, out_grad, n, weight_grad, bias_grad);
  }
}

void zero_border(const Plane& p) {
  switch (isa()) {
    case Isa::avx512:
      return zero_border_avx512(p);
    case Isa::avx2:
      return zero_border_avx2(p);
    default:
      return zero_border_generic(p);
  }
}

void max_pool3x3(const Plane& in, const Plane& out, int32_t* argmax, const Plane* relu_copy) {
  switch (isa()) {
    case Isa::avx512:
      return max_pool_avx512(in, out, argmax, relu_copy);
    case Isa::avx2:
      return max_pool_avx2(in, out, argmax, relu_copy);
    default:
      return max_pool_generic(in, out, argmax, relu_copy);
  }
}

void max_pool3x3_grad(const Plane& out_grad, const int32_t* argmax, const Plane& in_grad) {
  switch (isa()) {
    case Isa::avx512:
      return max_pool_grad_avx512(out_grad, argmax, in_grad);
    case Isa::avx2:
      return max_pool_grad_avx2(out_grad, argmax, in_grad);
    default:
      return max_pool_grad_generic(out_grad, argmax, in_grad);
  }
}

void arrange_weights(const float* torch_weight, int64_t out, int64_t in, bool forward, float* arranged) {
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i)
      for (int64_t k = 0; k < 9; ++k) {
        const float w = torch_weight[(o * in + i) * 9 + k];
        if (forward)
          arranged[(i * 9 + k) * out + o] = w;
        else
          arranged[(o * 9 + (8 - k)) * in + i] = w;
      }
}

}  // namespace shardlab::impala_kernels
