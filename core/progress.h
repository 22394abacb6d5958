// A progress line on stderr for long runs: redrawn in place on a terminal, one line every few
// seconds otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace shardlab {

class Progress {
 public:
  explicit Progress(std::string what);
  // Units done before this process began (a resumed run): the rate and eta count only the rest.
  void count_from(int64_t done) { first_ = done; }
  // `done` of `total` units; `extra` is appended (recent return, rates).
  void update(int64_t done, int64_t total, const std::string& extra, bool force = false);
  void finish(int64_t done, int64_t total, const std::string& extra);
  // The final line, only if an earlier one was shown (quick loops stay silent).
  void settle(int64_t done, int64_t total, const std::string& extra);
  double seconds() const;
  // Units per second since this process began, counting only those past count_from.
  double rate(int64_t done) const;

 private:
  std::string what_;
  std::chrono::steady_clock::time_point start_, last_;
  bool tty_;
  bool shown_ = false;
  int64_t first_ = 0;
};

}  // namespace shardlab
