// libFuzzer target: the activation-log reader (analysis/activation_log.h).
// fuzz/fuzz_inputs.h says what one input is.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardlab::fuzz::run_fuzz_input("activation_log", shardlab::fuzz::feed_activation_log, data, size);
}
