// Content hashes for files shardlab verifies on load (checkpoints): SHA-256 from OpenSSL.
#pragma once

#include <cstddef>
#include <string>

namespace shardlab {

// The SHA-256 of `size` bytes at `data`, as 64 lowercase hex digits.
std::string sha256_hex(const void* data, size_t size);

}  // namespace shardlab
