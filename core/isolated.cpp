#include "core/isolated.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"

namespace shardlab {
namespace {

// The child's exit codes for an error `work` threw, by kind (a sanitizer's report exits 1).
enum ChildExit : int { kOk = 0, kCorruptFile = 3, kFileError = 4, kInputError = 5, kOtherError = 6 };

void write_all(int fd, const std::string& text) {
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string run_isolated(const std::function<std::string()>& work, const std::string& crashed, double timeout_s) {
  int fds[2];
  if (::pipe(fds) != 0) return work();
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return work();
  }
  if (child == 0) {
    ::close(fds[0]);
    std::string text;
    int code = kOk;
    try {
      text = work();
    } catch (const CorruptFile& e) {
      text = e.what(), code = kCorruptFile;
    } catch (const FileError& e) {
      text = e.what(), code = kFileError;
    } catch (const InputError& e) {
      text = e.what(), code = kInputError;
    } catch (const std::exception& e) {
      text = e.what(), code = kOtherError;
    }
    write_all(fds[1], text);
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  while (true) {
    int wait_ms = -1;
    if (timeout_s > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) throw CorruptFile(crashed + " (it did not finish in " + std::to_string(static_cast<int>(timeout_s)) + " s)");
  if (WIFSIGNALED(status))
    throw CorruptFile(crashed + " (signal " + std::to_string(WTERMSIG(status)) + ", " + strsignal(WTERMSIG(status)) + ")");
  switch (WEXITSTATUS(status)) {
    case kOk:
      return text;
    case kCorruptFile:
      throw CorruptFile(text);
    case kFileError:
      throw FileError(text);
    case kInputError:
      throw InputError(text);
    case kOtherError:
      throw Error(text);
    default:  // a sanitizer caught the crash
      throw CorruptFile(crashed + " (exit status " + std::to_string(WEXITSTATUS(status)) + ")");
  }
}

}  // namespace shardlab
