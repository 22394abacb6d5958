#include "offline/step_worker.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace shardlab {

namespace {

// Waits until `ready()` holds: spinning for up to 100 us, then on `cv` (signalled under `mutex`).
template <class Ready>
void wait_for(const Ready& ready, std::mutex& mutex, std::condition_variable& cv) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
  for (int spin = 1; !ready(); ++spin) {
    if (spin % 64 == 0 && std::chrono::steady_clock::now() > until) {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, ready);
      return;
    }
#if defined(__SSE2__)
    _mm_pause();
#endif
  }
}

}  // namespace

StepWorker::StepWorker() : thread_([this] { loop(); }) {}

StepWorker::~StepWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void StepWorker::loop() {
  torch::NoGradGuard no_grad;  // grad mode is per thread
  for (;;) {
    wait_for([this] { return stop_.load() || task_.load() != nullptr; }, mutex_, wake_);
    if (stop_) return;
    std::exception_ptr failure;
    try {
      (*task_.load())();
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = failure;
      task_ = nullptr;
      finished_ = true;
    }
    done_.notify_one();
  }
}

void StepWorker::side_by_side(const std::function<void()>& first, const std::function<void()>& second) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = false;
    task_ = &first;
  }
  wake_.notify_one();
  std::exception_ptr failure;
  try {
    second();
  } catch (...) {
    failure = std::current_exception();
  }
  wait_for([this] { return finished_.load(); }, mutex_, done_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (failure_) failure = failure_;
  failure_ = nullptr;
  if (failure) std::rethrow_exception(failure);
}

std::vector<AdamPart> prepare_adam_step(torch::optim::Adam& optimizer) {
  using torch::optim::AdamOptions;
  using torch::optim::AdamParamState;
  std::vector<AdamPart> parts;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const AdamOptions&>(group.options());
    if (options.weight_decay() != 0 || options.amsgrad())
      throw Error("prepare_adam_step: weight decay and amsgrad are not implemented");
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
      auto& state_map = optimizer.state();
      auto found = state_map.find(key);
      if (found == state_map.end()) {  // as Adam::step initialises it
        auto state = std::make_unique<AdamParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        found = state_map.emplace(key, std::move(state)).first;
      }
      auto& state = static_cast<AdamParamState&>(*found->second);
      state.step(state.step() + 1);
      AdamPart part;
      part.param = p;
      part.grad = p.grad();
      part.exp_avg = state.exp_avg();
      part.exp_avg_sq = state.exp_avg_sq();
      part.beta1 = std::get<0>(options.betas());
      part.beta2 = std::get<1>(options.betas());
      part.eps = options.eps();
      part.step_size = options.lr() / (1 - std::pow(part.beta1, state.step()));
      part.bias_correction2_sqrt = std::sqrt(1 - std::pow(part.beta2, state.step()));
      for (const at::Tensor* t : {&part.param, &part.grad, &part.exp_avg, &part.exp_avg_sq})
        if (!t->is_contiguous() || t->scalar_type() != at::kFloat || !t->device().is_cpu())
          throw Error("prepare_adam_step: expects contiguous float CPU tensors");
      parts.push_back(std::move(part));
    }
  }
  return parts;
}

void apply_adam_step(const AdamPart& part, int64_t begin, int64_t count, double max_norm, const at::Tensor* target,
                     double tau) {
  const int64_t row = part.param.numel() / std::max<int64_t>(1, part.param.dim() == 0 ? 1 : part.param.size(0));
  const int64_t offset = begin * row, n = count * row;
  float* p = part.param.data_ptr<float>() + offset;
  const float* g = part.grad.data_ptr<float>() + offset;
  float* m = part.exp_avg.data_ptr<float>() + offset;
  float* v = part.exp_avg_sq.data_ptr<float>() + offset;
  // Adam's own order: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  // p -= step_size m / (sqrt(v) / sqrt(1 - b2^t) + eps), with its float scalars.
  const float b1 = static_cast<float>(part.beta1), c1 = static_cast<float>(1 - part.beta1);
  const float b2 = static_cast<float>(part.beta2), c2 = static_cast<float>(1 - part.beta2);
  const float bc2 = static_cast<float>(part.bias_correction2_sqrt), eps = static_cast<float>(part.eps);
  const float step = static_cast<float>(-part.step_size);
  int64_t i = 0;
#if defined(__SSE2__)
  // Four at a time with the same operations in the same order (SSE2 has no fused multiply-add),
  // so the vector and scalar loops agree bit for bit; std::sqrt's errno keeps compilers scalar.
  const __m128 vb1 = _mm_set1_ps(b1), vc1 = _mm_set1_ps(c1), vb2 = _mm_set1_ps(b2), vc2 = _mm_set1_ps(c2);
  const __m128 vbc2 = _mm_set1_ps(bc2), veps = _mm_set1_ps(eps), vstep = _mm_set1_ps(step);
  for (; i + 4 <= n; i += 4) {
    const __m128 gi = _mm_loadu_ps(g + i);
    const __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), vb1), _mm_mul_ps(gi, vc1));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), vb2), _mm_mul_ps(_mm_mul_ps(gi, gi), vc2));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc2), veps);
    _mm_storeu_ps(p + i, _mm_add_ps(_mm_loadu_ps(p + i), _mm_mul_ps(vstep, _mm_div_ps(mi, denom))));
  }
#endif
  for (; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + gi * gi * c2;
    m[i] = mi;
    v[i] = vi;
    p[i] += step * (mi / (std::sqrt(vi) / bc2 + eps));
  }
  // W *= min(1, max_norm / ||W||), as project_weight_norms (offline/q_network.h).
  float scale = 1.0f;
  if (max_norm > 0) {
    double squares = 0;
    int64_t j = 0;
#if defined(__SSE2__)
    __m128d low = _mm_setzero_pd(), high = _mm_setzero_pd();  // in double, four at a time
    for (; j + 4 <= n; j += 4) {
      const __m128 pj = _mm_loadu_ps(p + j);
      const __m128d a = _mm_cvtps_pd(pj), b = _mm_cvtps_pd(_mm_movehl_ps(pj, pj));
      low = _mm_add_pd(low, _mm_mul_pd(a, a));
      high = _mm_add_pd(high, _mm_mul_pd(b, b));
    }
    double lanes[4];
    _mm_storeu_pd(lanes, low);
    _mm_storeu_pd(lanes + 2, high);
    squares = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; j < n; ++j) squares += static_cast<double>(p[j]) * p[j];
    scale = std::min(1.0f, static_cast<float>(max_norm) / static_cast<float>(std::sqrt(squares)));
  }
  if (scale < 1.0f)
    for (int64_t j = 0; j < n; ++j) p[j] *= scale;
  if (target) {  // torch's lerp_ for a weight below one half: t + tau (p - t)
    float* t = target->data_ptr<float>() + offset;
    const float w = static_cast<float>(tau);
    for (int64_t j = 0; j < n; ++j) t[j] += w * (p[j] - t[j]);
  }
}

}  // namespace shardlab
