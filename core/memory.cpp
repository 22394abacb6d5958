#include "core/memory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace shardlab {
namespace {

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

}  // namespace

int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
}

void require_memory(double bytes, const std::string& what, const std::string& advice) {
  const double available = static_cast<double>(available_memory_bytes());
  if (bytes <= available) return;
  throw InputError(what + " needs about " + gib(bytes) + ", this machine has " + gib(available) + " available; " +
                   advice);
}

}  // namespace shardlab
