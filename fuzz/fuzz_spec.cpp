// libFuzzer target: the spec parser (core/spec.h) against the full schema (experiments/schema.h).
// fuzz/fuzz_inputs.h says what one input is.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardlab::fuzz::run_fuzz_input("spec", shardlab::fuzz::feed_spec, data, size);
}
