// Refusing work that cannot fit in memory before allocating it, so a spec asking for too much
// gets one line naming its keys instead of std::bad_alloc or the kernel's OOM killer.
#pragma once

#include <cstdint>
#include <string>

namespace shardlab {

// Bytes the kernel says can be allocated without swapping (MemAvailable), or physical memory
// when that is unknown.
int64_t available_memory_bytes();

// InputError "`what` needs about X GiB, this machine has Y GiB available; `advice`" when `bytes`
// exceeds the available memory.
void require_memory(double bytes, const std::string& what, const std::string& advice);

}  // namespace shardlab
