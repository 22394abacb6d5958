#include "core/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace shardlab {

Progress::Progress(std::string what)
    : what_(std::move(what)), start_(std::chrono::steady_clock::now()), last_(start_), tty_(isatty(2) != 0) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate(int64_t done) const {
  const double elapsed = seconds();
  return elapsed > 0 ? (done - first_) / elapsed : 0.0;
}

void Progress::update(int64_t done, int64_t total, const std::string& extra, bool force) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (!force && since < (tty_ ? 0.25 : 5.0)) return;
  last_ = now;
  shown_ = true;
  const double rate = this->rate(done);
  const double eta = rate > 0 ? (total - done) / rate : 0.0;
  char line[512];
  std::snprintf(line, sizeof line, "%s %lld/%lld (%.0f%%) %.0f/s eta %.0fs %s", what_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total), total ? 100.0 * done / total : 100.0, rate,
                eta, extra.c_str());
  if (tty_)
    std::cerr << "\r\033[K" << line << std::flush;
  else
    std::cerr << line << '\n';
}

void Progress::settle(int64_t done, int64_t total, const std::string& extra) {
  if (shown_) finish(done, total, extra);
}

void Progress::finish(int64_t done, int64_t total, const std::string& extra) {
  update(done, total, extra, true);
  if (tty_) std::cerr << '\n';
}

}  // namespace shardlab
