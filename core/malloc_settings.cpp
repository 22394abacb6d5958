// glibc's allocator, set for tensors: every executable links this file (CMakeLists.txt), and it
// runs before main.
//
// By default glibc serves each allocation above its mmap threshold (128 KiB, rising to at most
// 32 MiB) with a fresh mmap and returns it to the kernel on free, so every minibatch's tensors
// (a 2048-sample minibatch of 25x25 grids is 15 MiB, its first activations 80 MiB) arrive as new
// pages the kernel must fault in and zero. That cost a third of a PPO run's wall time in system
// time (docs/benchmarks.md, "PPO: the allocator, ..."). Here large blocks come from the heap like
// small ones and freed memory stays with the process for the next minibatch: the same numbers,
// faster.
// Under the sanitizers mallopt is their no-op.
#include <malloc.h>

namespace {

struct MallocSettings {
  MallocSettings() {
    mallopt(M_MMAP_MAX, 0);                    // never mmap a block: take it from the heap
    mallopt(M_TRIM_THRESHOLD, 1 << 30);        // keep up to 1 GiB of freed heap top for reuse
    mallopt(M_TOP_PAD, 64 << 20);              // grow the heap in 64 MiB steps
  }
};

const MallocSettings settings;

}  // namespace
