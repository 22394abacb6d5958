#include "core/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/text.h"

namespace shardlab {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The temporaries being written, for the signal handler: fixed slots it can read without locks.
constexpr int kSlots = 64;
std::atomic<const char*> g_temporaries[kSlots];

void track(const char* path) {
  for (auto& slot : g_temporaries) {
    const char* empty = nullptr;
    if (slot.compare_exchange_strong(empty, path)) return;
  }
  // More than kSlots files open at once: this one is only cleaned up at the next start.
}

void untrack(const char* path) {
  for (auto& slot : g_temporaries) {
    const char* expected = path;
    if (slot.compare_exchange_strong(expected, nullptr)) return;
  }
}

extern "C" void unlink_temporaries_and_die(int signal) {
  for (auto& slot : g_temporaries)
    if (const char* path = slot.load()) ::unlink(path);
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

// Temporaries `<name>.tmp.<pid>[.<n>]` of `path` left by processes that no longer exist.
void remove_stale_temporaries(const std::string& path) {
  const std::string folder = folder_of(path);
  const std::string prefix = path.substr(path.find_last_of('/') + 1) + ".tmp.";
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || end == name.c_str() + prefix.size() || (*end != '\0' && *end != '.')) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    const std::string stale = path.find('/') == std::string::npos ? name : (folder == "/" ? "" : folder) + "/" + name;
    struct stat s;
    if (::lstat(stale.c_str(), &s) != 0) continue;
    bool removed = false;
    if (S_ISDIR(s.st_mode)) {  // an AtomicFolder's
      std::error_code error;
      removed = std::filesystem::remove_all(stale, error) != static_cast<std::uintmax_t>(-1) && !error;
    } else {
      removed = ::unlink(stale.c_str()) == 0;
    }
    if (removed) std::fprintf(stderr, "shardlab: removed %s, left by process %ld that is gone\n", stale.c_str(), pid);
  }
  ::closedir(dir);
}

bool exists(const std::string& path) {
  struct stat s;
  return ::lstat(path.c_str(), &s) == 0;
}

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void check_replaceable(const std::string& path) {
  struct stat s;
  if (::lstat(path.c_str(), &s) != 0) return;
  if (S_ISREG(s.st_mode)) return;
  throw InputError(path + " is " + file_kind(s.st_mode) + "; shardlab only writes regular files");
}

void claim_outputs(const std::vector<std::string>& paths, bool force) {
  for (const std::string& path : paths) {
    check_replaceable(path);
    if (!force && exists(path)) throw InputError(path + " exists; pass --force to overwrite");
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::string folder = folder_of(path_);
  struct stat s;
  if (::stat(folder.c_str(), &s) != 0 || !S_ISDIR(s.st_mode))
    throw InputError(path_ + ": folder '" + folder + "' does not exist");
  check_replaceable(path_);
  remove_stale_temporaries(path_);
  const std::string base = path_ + ".tmp." + std::to_string(::getpid());
  temporary_ = base;
  for (int attempt = 1; exists(temporary_); ++attempt) temporary_ = base + "." + std::to_string(attempt);
  track(temporary_.c_str());
}

void AtomicFile::remove_temporaries_on_signals() {
  for (int signal : {SIGINT, SIGTERM}) ::signal(signal, unlink_temporaries_and_die);
}

AtomicFile::~AtomicFile() {
  if (!done_) discard();
}

void AtomicFile::discard() {
  ::unlink(temporary_.c_str());
  untrack(temporary_.c_str());
  done_ = true;
}

void AtomicFile::commit(bool replace) {
  if (done_) throw Error(path_ + ": AtomicFile committed twice");
  if (!exists(temporary_)) {
    done_ = true;
    throw FileError(path_ + ": nothing was written to " + temporary_);
  }
  sync_path(temporary_, O_RDONLY);
  try {
    check_replaceable(path_);  // it may have appeared while we wrote
  } catch (...) {
    discard();
    throw;
  }
  bool published = false;
  if (!replace) {
    if (::link(temporary_.c_str(), path_.c_str()) == 0) {
      ::unlink(temporary_.c_str());
      published = true;
    } else if (errno == EEXIST) {
      discard();
      throw InputError(path_ + " exists; pass --force to overwrite");
    }
    // Filesystems without hard links fall back to rename().
  }
  if (!published && ::rename(temporary_.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    discard();
    throw FileError(path_ + ": cannot move " + temporary_ + " into place: " + reason);
  }
  done_ = true;
  untrack(temporary_.c_str());
  sync_path(folder_of(path_), O_RDONLY | O_DIRECTORY);
}

namespace {

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

void remove_tree(const std::string& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);
}

}  // namespace

AtomicFolder::AtomicFolder(std::string path) : path_(without_trailing_slashes(std::move(path))) {
  const std::string folder = folder_of(path_);
  struct stat s;
  if (::stat(folder.c_str(), &s) != 0 || !S_ISDIR(s.st_mode))
    throw InputError(path_ + ": folder '" + folder + "' does not exist");
  if (::lstat(path_.c_str(), &s) == 0 && !S_ISDIR(s.st_mode))
    throw InputError(path_ + " exists and is not a folder");
  remove_stale_temporaries(path_);
  temporary_ = free_name(path_ + ".tmp." + std::to_string(::getpid()));
  if (::mkdir(temporary_.c_str(), 0777) != 0)
    throw FileError(path_ + ": cannot create " + temporary_ + ": " + std::strerror(errno));
}

AtomicFolder::~AtomicFolder() {
  if (!done_) remove_tree(temporary_);
}

void AtomicFolder::commit() {
  if (done_) throw Error(path_ + ": AtomicFolder committed twice");
  done_ = true;  // from here the temporary is either in place or removed
  sync_path(temporary_, O_RDONLY | O_DIRECTORY);
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    remove_tree(temporary_);
    throw FileError(path_ + ": cannot move " + temporary_ + " into place (" + what + "): " + reason);
  };
  struct stat s;
  if (::lstat(path_.c_str(), &s) != 0) {
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) fail("rename");
  } else if (!S_ISDIR(s.st_mode)) {
    remove_tree(temporary_);
    throw InputError(path_ + " exists and is not a folder");
  } else if (::renameat2(AT_FDCWD, temporary_.c_str(), AT_FDCWD, path_.c_str(), RENAME_EXCHANGE) == 0) {
    remove_tree(temporary_);  // now the earlier folder
  } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
    // No exchange on this filesystem: the earlier folder is set aside until the new one is in.
    const std::string old = free_name(path_ + ".old." + std::to_string(::getpid()));
    if (::rename(path_.c_str(), old.c_str()) != 0) fail("set the earlier folder aside");
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
      const int saved = errno;
      ::rename(old.c_str(), path_.c_str());
      errno = saved;
      fail("rename");
    }
    remove_tree(old);
  } else {
    fail("exchange");
  }
  sync_path(folder_of(path_), O_RDONLY | O_DIRECTORY);
}

std::string free_name(const std::string& base) {
  std::string name = base;
  for (int attempt = 1; exists(name); ++attempt) name = base + "." + std::to_string(attempt);
  return name;
}

std::string final_name_of(const std::string& path) {
  const size_t mark = path.rfind(".tmp.");
  if (mark == std::string::npos || mark == 0) return path;
  const std::string tail = path.substr(mark + 5);
  if (tail.empty() || tail.find_first_not_of("0123456789.") != std::string::npos || tail.front() == '.' ||
      tail.back() == '.')
    return path;
  return path.substr(0, mark);
}

void throw_write_failure(const std::string& path, const std::string& what, int error_number) {
  std::string message = path + ": " + what;
  if (error_number != 0) message += ": " + std::string(std::strerror(error_number));
  bool full = error_number == ENOSPC || error_number == EDQUOT || error_number == EROFS || error_number == EIO;
  struct statvfs room {};
  if (!full && ::statvfs(folder_of(path).c_str(), &room) == 0) {
    full = static_cast<unsigned long long>(room.f_bavail) * room.f_frsize < (1ull << 20) ||
           (room.f_files > 0 && room.f_favail == 0) || (room.f_flag & ST_RDONLY);
    if (full && error_number == 0) message += " (the disk is full)";
  }
  if (full) throw StorageError(message);
  throw FileError(message);
}

void AtomicFile::write(const std::string& contents) const {
  std::FILE* out = std::fopen(temporary_.c_str(), "wb");
  if (!out) throw_write_failure(path_, "cannot write", errno);
  const bool ok = std::fwrite(contents.data(), 1, contents.size(), out) == contents.size();
  const int write_error = ok ? 0 : errno;
  const bool closed = std::fclose(out) == 0;
  if (!ok || !closed) throw_write_failure(path_, "cannot write", ok ? errno : write_error);
}

void write_file_atomically(const std::string& path, const std::string& contents, bool replace) {
  AtomicFile file(path);
  file.write(contents);
  file.commit(replace);
}

}  // namespace shardlab
