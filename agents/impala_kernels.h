// Direct 3x3 convolutions and 3x3 max-pooling for the IMPALA torso's narrow layers, vectorised over
// the batch instead of over channels: an activation holds kLanes samples per pixel (one 512-bit
// register of floats), so a network of 8 or 16 channels still fills every lane of every
// multiply-add. libtorch's kernels vectorise over channels, which 8 channels fill a fraction of
// (docs/benchmarks.md, issue 33). Each kernel is compiled for AVX-512 and for AVX2 and picks one
// at run time; the arithmetic of both is the same, in the same order.
#pragma once

#include <cstdint>

namespace shardlab::impala_kernels {

constexpr int64_t kLanes = 16;  // samples per batch block

// One batch block's activation: channels x height x width pixels of kLanes samples, with a border
// of zero pixels around each channel (the convolutions' padding; kernels write interiors only, so
// a zeroed plane keeps its border). Neighbours share their border: a row's right border pixel is
// the next row's left one, and a channel's bottom border row the next channel's top one, so rows
// are width + 1 pixels apart and channels height + 1 rows. For the 2x2 and 4x4 planes of the
// maze networks this stores 9 and 25 pixels a channel instead of 16 and 36 (docs/benchmarks.md,
// issue 33): less memory for a minibatch's saved activations to stream through.
struct Plane {
  float* data = nullptr;
  int64_t channels = 0, height = 0, width = 0;

  int64_t row() const { return (width + 1) * kLanes; }
  int64_t plane() const { return (height + 1) * row(); }
  // floats: every channel, the last channel's bottom border row and its last pixel
  int64_t size() const { return channels * plane() + row() + kLanes; }
  // The pixel (y, x) of channel c; y and x may be -1 or height / width (the border).
  float* at(int64_t c, int64_t y, int64_t x) const { return data + c * plane() + (y + 1) * row() + (x + 1) * kLanes; }
};

// Zeroes the border of a plane whose interior a kernel writes, a pixel (kLanes floats, one cache
// line) at a time: per channel, its top row and each interior row's left pixel (the right border
// pixels are the next row's left ones, the bottom row the next channel's top one), then the last
// channel's bottom row. A vector store a pixel: a block's planes have about 1,200 border runs, and
// a memset for each (which is also what GCC makes of a plain loop of float stores) cost 5% of the
// demo's update (docs/benchmarks.md, issue 33).
void zero_border(const Plane& p);

// Which build of the kernels runs: the best this CPU has (the default), or a named one (tests run
// each build the CPU can run; asking for one it cannot run keeps the best).
enum class Isa { best, avx512, avx2, generic };
void select_isa(Isa isa);
bool isa_supported(Isa isa);

// What conv3x3 does to each sum before storing it (planes of out's shape): zero it where `mask` is
// not positive (a ReLU's backward), then add `add` (a residual), then apply a ReLU (NaN in, NaN
// out, as libtorch's); and, with `relu_copy`, also store the ReLU of what it stored there (the
// next layer's input, without a pass of its own).
struct Epilogue {
  const Plane* mask = nullptr;
  const Plane* add = nullptr;
  bool relu = false;
  const Plane* relu_copy = nullptr;
};

// out = epilogue(bias + conv3x3(in, weights)), padding 1, stride 1, over the interior of `out` (same
// height and width as `in`). `weights` is laid out [in channel][ky][kx][out channel]; bias may be
// null (0).
void conv3x3(const Plane& in, const float* weights, const float* bias, const Plane& out, const Epilogue& then = {});

// Rearranges a PyTorch weight [out][in][3][3] (contiguous) for conv3x3: `forward` gives
// [in][ky][kx][out]; otherwise the weights of the input gradient, a convolution of the output's
// gradient with the kernel flipped and in and out swapped: [out][ky][kx][in].
void arrange_weights(const float* torch_weight, int64_t out, int64_t in, bool forward, float* arranged);

// Adds the weight and bias gradients of conv3x3 given its inputs and its outputs' gradients in `n`
// blocks (in[i], out_grad[i], all of one shape), per lane: weight_grad [out][in][9][kLanes],
// bias_grad [out][kLanes] (summed over lanes by the caller). Each sum takes the blocks in order,
// so one call on n blocks gives the same bits as n calls on one.
void conv3x3_weight_grad(const Plane* in, const Plane* out_grad, int64_t n, float* weight_grad, float* bias_grad);

// 3x3 max-pooling, stride 2, padding 1 (out has height (in.height + 1) / 2): the first maximum of
// each window in row-major order wins, as in libtorch (a NaN wins over any number, the last NaN over
// an earlier one), and its position (0-8) goes to `argmax`
// (kLanes int32 per output pixel, [channel][y][x]). With `relu_copy`, the ReLU of each maximum
// also goes there (a plane of out's shape).
void max_pool3x3(const Plane& in, const Plane& out, int32_t* argmax, const Plane* relu_copy = nullptr);
// Adds out_grad to the winning positions of in_grad (whose interior the caller zeroes first).
void max_pool3x3_grad(const Plane& out_grad, const int32_t* argmax, const Plane& in_grad);

}  // namespace shardlab::impala_kernels
