#include "core/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
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

// "KEY:   N kB" of a /proc file, in bytes; -1 if absent.
int64_t proc_kib_field(const char* path, const std::string& wanted) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    if (fields >> key >> kib && key == wanted) return kib * 1024;
  }
  return -1;
}

}  // namespace

int64_t available_memory_bytes() {
  int64_t available = proc_kib_field("/proc/meminfo", "MemAvailable:");
  if (available < 0) available = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  // An address-space limit (ulimit -v) counts what the process has mapped already.
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const int64_t mapped = std::max<int64_t>(0, proc_kib_field("/proc/self/status", "VmSize:"));
    available = std::min(available, static_cast<int64_t>(limit.rlim_cur) - mapped);
  }
  return std::max<int64_t>(0, available);
}

void require_memory(double bytes, const std::string& what, const std::string& advice) {
  const double available = static_cast<double>(available_memory_bytes());
  if (bytes <= available) return;
  throw InputError(what + " needs about " + gib(bytes) + ", this machine has " + gib(available) + " available; " +
                   advice);
}

}  // namespace shardlab
