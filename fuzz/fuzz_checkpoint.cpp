// libFuzzer target: the checkpoint loader (agents/checkpoint.h).
// fuzz/fuzz_inputs.h says what one input is.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardlab::fuzz::run_fuzz_input("checkpoint", shardlab::fuzz::feed_checkpoint, data, size);
}
