// libFuzzer target: the experience-file reader (core/experience_file.h) and describe_h5.
// fuzz/fuzz_inputs.h says what one input is.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shardlab::fuzz::run_fuzz_input("experience_file", shardlab::fuzz::feed_experience_file, data, size);
}
