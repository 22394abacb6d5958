// Pieces of ATAC's fused gradient step (offline/atac_fused.cpp) that are not ATAC's: a second
// thread kept for a learner's life, and torch::optim::Adam's step applied part by part, so that
// the twin critics' heads (or an actor's layers) are updated on two threads.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace torch::optim {
class Adam;
}

namespace shardlab {

// One worker thread. side_by_side(first, second) runs `first` there and `second` on the calling
// thread, returns when both are done and rethrows the first failure. Grad mode is off on the
// worker (a learner's hand-written passes need no autograd). Between tasks each side spins for up
// to 100 us before sleeping, since a step's halves follow each other within microseconds and a
// sleeping thread takes tens of them to wake. Not reentrant.
class StepWorker {
 public:
  StepWorker();
  ~StepWorker();
  StepWorker(const StepWorker&) = delete;
  StepWorker& operator=(const StepWorker&) = delete;
  void side_by_side(const std::function<void()>& first, const std::function<void()>& second);

 private:
  void loop();
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<const std::function<void()>*> task_{nullptr};
  std::atomic<bool> finished_{false}, stop_{false};
  std::exception_ptr failure_;
  std::thread thread_;
};

// torch::optim::Adam's step (no weight decay, no amsgrad) split in two: prepare_adam_step does what
// must happen once per parameter (its state created as Adam creates it, in the optimizer's own
// state map so checkpoints are unchanged, and its step count advanced); apply_adam_step then
// updates slices [begin, begin + count) along dim 0 of one parameter in one pass over memory
// (moments and weights), so disjoint slices may run on different threads. Parameters without a
// gradient are skipped, as Adam skips them. Equal to Adam's step up to float rounding.
struct AdamPart {
  at::Tensor param, grad, exp_avg, exp_avg_sq;
  double beta1 = 0, beta2 = 0, eps = 0, step_size = 0, bias_correction2_sqrt = 0;
};
std::vector<AdamPart> prepare_adam_step(torch::optim::Adam& optimizer);
// With `max_norm` > 0 the updated slice is then scaled to Frobenius norm <= max_norm (ATAC's
// projection of a head's weight matrix); with `target` (a tensor of the parameter's shape), the
// same slice of it then moves by Polyak averaging, target += tau (param - target).
void apply_adam_step(const AdamPart& part, int64_t begin, int64_t count, double max_norm = 0,
                     const at::Tensor* target = nullptr, double tau = 0);

}  // namespace shardlab
