// What each fuzz target feeds through shardlab's public API. Shared by the libFuzzer targets
// (fuzz/fuzz_*.cpp, built with SHARDLAB_SANITIZE) and by the regression test that replays every
// input kept under tests/data/fuzz/<target>/ (tests/test_fuzz_regressions.cpp, every build).
//
// A feed function returns normally when shardlab accepted the input or refused it with one of
// its own errors (core/error.h); anything else (another exception type, a crash, a sanitizer
// report, a hang) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace shardlab::fuzz {

using Feed = void (*)(const uint8_t* data, size_t size);

// A spec file's text up to the first NUL byte; each further NUL-separated piece is one
// `--set key=value`. An accepted spec must also read back every key through its typed getter and
// survive to_ini() -> from_text() unchanged.
void feed_spec(const uint8_t* data, size_t size);
// The bytes as an HDF5 file: ExperienceReader (every row, next_indices), summarize_experience,
// and describe_h5 (what `shardlab inspect` prints for any HDF5 file).
void feed_experience_file(const uint8_t* data, size_t size);
// The bytes as an activation log: open, every layer's shape, first channel and first row, the
// mazes, and the per-channel statistics of `shardlab inspect LOG --layer L`.
void feed_activation_log(const uint8_t* data, size_t size);
// The bytes as a checkpoint: Checkpoint::read_spec and load_policy (rebuild the network from the
// stored spec, then load every weight).
void feed_checkpoint(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // also the folder under tests/data/fuzz/
  Feed feed;
};
// The four targets: "spec", "experience_file", "activation_log", "checkpoint".
const std::vector<Target>& targets();

// The body of LLVMFuzzerTestOneInput: feeds the input, treats a shardlab error as a normal
// outcome, and aborts (so libFuzzer keeps the input) with the type and message of any other
// exception.
int run_fuzz_input(const char* target, Feed feed, const uint8_t* data, size_t size);

// A per-process scratch file for the file-based targets, under $TMPDIR (or /tmp).
std::string scratch_path(const std::string& target);

}  // namespace shardlab::fuzz
