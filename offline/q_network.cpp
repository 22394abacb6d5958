#include "offline/q_network.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace shardlab {
namespace nn = torch::nn;

StackedMlpImpl::StackedMlpImpl(int64_t heads, int64_t inputs, int64_t hidden, int64_t layers, int64_t outputs,
                               at::Generator& init)
    : heads_(heads) {
  torch::NoGradGuard no_grad;
  int64_t in = inputs;
  for (int64_t l = 0; l <= layers; ++l) {
    const int64_t out = l == layers ? outputs : hidden;
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // torch.nn.Linear's default
    at::Tensor w = at::rand({heads, in, out}, init, torch::kFloat32) * (2 * bound) - bound;
    at::Tensor b = at::rand({heads, 1, out}, init, torch::kFloat32) * (2 * bound) - bound;
    weights.push_back(register_parameter("weight" + std::to_string(l), w));
    biases.push_back(register_parameter("bias" + std::to_string(l), b));
    in = out;
  }
}

at::Tensor StackedMlpImpl::forward(const at::Tensor& x) {
  // The first layer shares x across heads: one (batch, in) x (in, heads * out) matmul.
  const int64_t batch = x.size(0);
  const at::Tensor& w0 = weights[0];
  at::Tensor h = x.matmul(w0.permute({1, 0, 2}).reshape({w0.size(1), -1}))
                     .view({batch, heads_, w0.size(2)})
                     .transpose(0, 1)
                     .add(biases[0]);
  // In-place ReLUs: no layer's backward needs its pre-activation output, and reusing the buffer
  // saves an allocation and a pass over memory per layer.
  for (size_t l = 1; l < weights.size(); ++l) h = torch::baddbmm(biases[l], h.relu_(), weights[l]);
  return h;
}

at::Tensor StackedMlpImpl::forward_head(int64_t head, const at::Tensor& x, bool frozen) {
  at::Tensor h = x;
  for (size_t l = 0; l < weights.size(); ++l) {
    at::Tensor w = weights[l].select(0, head), b = biases[l].select(0, head);
    if (frozen) {
      w = w.detach();
      b = b.detach();
    }
    if (l > 0) h.relu_();  // h is the previous addmm's own output
    h = torch::addmm(b, h, w);
  }
  return h;
}

at::Tensor StackedMlpImpl::forward_taped(int64_t head, const at::Tensor& x, MlpTape& tape) const {
  tape.inputs.clear();
  at::Tensor h = x;
  for (size_t l = 0; l < weights.size(); ++l) {
    tape.inputs.push_back(h);
    h = h.mm(weights[l].select(0, head));
    add_bias_(h, biases[l].select(0, head), /*relu=*/l + 1 < weights.size());
  }
  return h;
}

at::Tensor StackedMlpImpl::backward_taped(int64_t head, const MlpTape& tape, const at::Tensor& grad_out,
                                          bool weight_grads, bool input_grad) {
  at::Tensor g = grad_out;  // d loss / d (layer l's output, before its ReLU)
  for (size_t l = weights.size(); l-- > 0;) {
    const at::Tensor& x = tape.inputs[l];
    if (weight_grads) {
      at::Tensor dw = weights[l].mutable_grad().select(0, head);
      at::mm_out(dw, x.t(), g);
      // The hidden layers' bias gradients were summed while masking their output's gradient.
      if (l + 1 == weights.size()) {
        at::Tensor db = biases[l].mutable_grad().select(0, head);
        at::sum_out(db, g, {0}, /*keepdim=*/true);
      }
    }
    if (l == 0 && !input_grad) return at::Tensor();
    g = g.mm(weights[l].select(0, head).t());
    if (l > 0)  // the ReLU that made x
      relu_backward_(g, x, weight_grads ? biases[l - 1].mutable_grad().select(0, head).data_ptr<float>() : nullptr);
  }
  return g;
}

void StackedMlpImpl::make_grads() {
  for (auto& p : parameters())
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
}

ContinuousTwinQImpl::ContinuousTwinQImpl(int64_t obs_size, int64_t action_dim, int64_t hidden, int64_t layers,
                                         at::Generator& init)
    : mlp(register_module("mlp", StackedMlp(2, obs_size + action_dim, hidden, layers, 1, init))) {}

at::Tensor ContinuousTwinQImpl::forward(const at::Tensor& obs, const at::Tensor& actions) {
  return mlp->forward(torch::cat({obs.reshape({obs.size(0), -1}), actions}, 1)).squeeze(2);
}

at::Tensor ContinuousTwinQImpl::forward_head(int64_t head, const at::Tensor& obs, const at::Tensor& actions,
                                             bool frozen) {
  return mlp->forward_head(head, torch::cat({obs.reshape({obs.size(0), -1}), actions}, 1), frozen).squeeze(1);
}

DiscreteQImpl::DiscreteQImpl(const NetworkConfig& config, const ObservationSpec& obs, int64_t num_actions)
    : torso(register_module("embedder", Torso(config, obs))),
      head(register_module("fc_q", nn::Linear(torso->features(), num_actions))) {}

at::Tensor DiscreteQImpl::forward(const at::Tensor& obs) { return head->forward(torso->forward(obs)); }

DiscreteTwinQImpl::DiscreteTwinQImpl(const NetworkConfig& config, const ObservationSpec& obs, int64_t num_actions,
                                     at::Generator& init) {
  with_generator(init, [&] {
    q1 = register_module("q1", DiscreteQ(config, obs, num_actions));
    q2 = register_module("q2", DiscreteQ(config, obs, num_actions));
    for (DiscreteQ* q : {&q1, &q2}) {
      (*q)->torso->init_weights();
      orthogonal_init(*(*q)->head, 1.0);
    }
  });
  q1->torso->apply_memory_format();
  q2->torso->apply_memory_format();
}

at::Tensor DiscreteTwinQImpl::forward(const at::Tensor& obs) {
  return torch::stack({q1->forward(obs), q2->forward(obs)}, 0);
}

at::Tensor DiscreteTwinQImpl::forward_head(int64_t head, const at::Tensor& obs, bool frozen) {
  DiscreteQ& q = head == 0 ? q1 : q2;
  if (!frozen) return q->forward(obs);
  torch::NoGradGuard no_grad;  // Q(s, .) does not depend on the policy: no gradient needed at all
  return q->forward(obs);
}

std::vector<at::Tensor> DiscreteTwinQImpl::constrained_weights() const {
  std::vector<at::Tensor> out;
  for (const auto& p : parameters())
    if (p.dim() >= 2) out.push_back(p.unsqueeze(0));
  return out;
}

ValueNetworkImpl::ValueNetworkImpl(const ObservationSpec& obs, int64_t hidden, int64_t layers, at::Generator& init)
    : mlp_(register_module("mlp", StackedMlp(1, obs.size(), hidden, layers, 1, init))) {}

ValueNetworkImpl::ValueNetworkImpl(const NetworkConfig& config, const ObservationSpec& obs, at::Generator& init) {
  with_generator(init, [&] {
    torso_ = register_module("embedder", Torso(config, obs));
    head_ = register_module("fc_v", nn::Linear(torso_->features(), 1));
    torso_->init_weights();
    orthogonal_init(*head_, 1.0);
  });
  torso_->apply_memory_format();
}

at::Tensor ValueNetworkImpl::forward(const at::Tensor& obs) {
  if (mlp_) return mlp_->forward_head(0, obs.reshape({obs.size(0), -1})).squeeze(1);
  return head_->forward(torso_->forward(obs)).squeeze(1);
}

void add_bias_(const at::Tensor& h, const at::Tensor& bias, bool relu) {
  if (!h.is_contiguous() || h.dim() != 2 || h.scalar_type() != at::kFloat || bias.numel() != h.size(1))
    throw Error("add_bias_: expects a contiguous float matrix and one bias per column");
  const at::Tensor b = bias.contiguous();
  const int64_t rows = h.size(0), cols = h.size(1);
  const float* bp = b.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float* hr = h.data_ptr<float>() + r * cols;
    int64_t c = 0;
#if defined(__SSE2__)
    const __m128 zero = _mm_setzero_ps();
    for (; c + 4 <= cols; c += 4) {
      const __m128 v = _mm_add_ps(_mm_loadu_ps(hr + c), _mm_loadu_ps(bp + c));
      _mm_storeu_ps(hr + c, relu ? _mm_max_ps(zero, v) : v);  // max(0, NaN) is NaN, as torch's relu
    }
#endif
    for (; c < cols; ++c) {
      const float v = hr[c] + bp[c];
      hr[c] = relu && !(v > 0) && !std::isnan(v) ? 0.0f : v;
    }
  }
}

void relu_backward_(const at::Tensor& g, const at::Tensor& x, float* column_sums) {
  if (!g.is_contiguous() || !x.is_contiguous() || g.sizes() != x.sizes() || g.dim() != 2 ||
      g.scalar_type() != at::kFloat || x.scalar_type() != at::kFloat)
    throw Error("relu_backward_: expects two contiguous float matrices of one shape");
  const int64_t rows = g.size(0), cols = g.size(1);
  std::vector<double> sums(column_sums ? cols : 0, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    float* gr = g.data_ptr<float>() + r * cols;
    const float* xr = x.data_ptr<float>() + r * cols;
    int64_t c = 0;
#if defined(__SSE2__)
    // Compilers keep the select scalar; SSE2 masks four at a time (the sums two doubles at a time).
    const __m128 zero = _mm_setzero_ps();
    for (; c + 4 <= cols; c += 4) {
      const __m128 v = _mm_and_ps(_mm_loadu_ps(gr + c), _mm_cmpgt_ps(_mm_loadu_ps(xr + c), zero));
      _mm_storeu_ps(gr + c, v);
      if (column_sums) {
        double* s = sums.data() + c;
        _mm_storeu_pd(s, _mm_add_pd(_mm_loadu_pd(s), _mm_cvtps_pd(v)));
        _mm_storeu_pd(s + 2, _mm_add_pd(_mm_loadu_pd(s + 2), _mm_cvtps_pd(_mm_movehl_ps(v, v))));
      }
    }
#endif
    for (; c < cols; ++c) {
      const float v = xr[c] > 0 ? gr[c] : 0.0f;
      gr[c] = v;
      if (column_sums) sums[c] += v;
    }
  }
  for (int64_t c = 0; c < (column_sums ? cols : 0); ++c) column_sums[c] = static_cast<float>(sums[c]);
}

void project_weight_norms(const std::vector<at::Tensor>& grouped_weights, double max_norm) {
  torch::NoGradGuard no_grad;
  for (const at::Tensor& w : grouped_weights) {
    const at::Tensor norms = w.detach().reshape({w.size(0), -1}).norm(2, {1});
    std::vector<int64_t> shape(w.dim(), 1);
    shape[0] = w.size(0);
    // max_norm / norm >= 1 when the norm is within the bound (and +inf for an all-zero group).
    w.mul_((max_norm / norms).clamp_max(1.0).view(shape));
  }
}

void polyak_update(nn::Module& target, const nn::Module& source, double tau) {
  torch::NoGradGuard no_grad;
  const auto t = target.parameters(), s = source.parameters();
  if (t.size() != s.size()) throw Error("polyak_update: the networks differ");
  for (size_t i = 0; i < t.size(); ++i) t[i].lerp_(s[i], tau);
}

void copy_weights(nn::Module& target, const nn::Module& source) {
  torch::NoGradGuard no_grad;
  const auto t = target.parameters(), s = source.parameters();
  if (t.size() != s.size()) throw Error("copy_weights: the networks differ");
  for (size_t i = 0; i < t.size(); ++i) t[i].copy_(s[i]);
  const auto tb = target.buffers(), sb = source.buffers();
  for (size_t i = 0; i < tb.size() && i < sb.size(); ++i) tb[i].copy_(sb[i]);
}

}  // namespace shardlab
