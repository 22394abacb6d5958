// Offline learners: update rules over minibatches of transitions drawn from a fixed dataset
// (offline/dataset.h), learners of the one interface (agents/learner.h), registered by name below.
// Adding one means writing its update and its keys and one registration line in
// offline/learner.cpp; the run folder, checkpoints, metrics and evaluation (offline/offline_run.cpp,
// agents/learner_loop.h) and the ablation grid stay untouched.
#pragma once

#include <memory>
#include <vector>

#include "agents/learner.h"

namespace shardlab {

class SpecSchema;

const std::vector<LearnerRegistration>& offline_learners();
// Declares offline.algo and every registered learner's keys.
void declare_offline_learner_keys(SpecSchema& schema);
// The learner the spec's offline.algo names.
std::unique_ptr<Learner> make_offline_learner(const LearnerContext& context);

// Raises glibc malloc's trim threshold and top pad so the large activation buffers each gradient
// step frees stay in the heap for the next step, instead of going back to the OS and being
// page-faulted in again (a quarter of an ATAC step at the reference sizes). Process-wide: call
// it once when an offline run starts. No effect with another allocator.
void keep_freed_memory_for_reuse();

// Debian's libtorch multiplies matrices with OpenBLAS (its pthreads build), whose thread pool
// at::set_num_threads does not size; this does (no effect without OpenBLAS). Process-wide.
void set_blas_threads(int threads);

}  // namespace shardlab
