#include "core/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

constexpr const char* kPassedFolder = "SHARDLAB_LOCKED_FOLDER";

std::string canonical_folder(const std::string& folder) {
  std::error_code error;
  const fs::path path = fs::canonical(folder, error);
  if (error || !fs::is_directory(path)) throw FileError(folder + ": cannot lock it: not a folder");
  return path.string();
}

// This process's command line, arguments separated by spaces, cut to a readable length.
std::string own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : text)
    if (c == '\0' || c == '\n') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.size() > 160) text = text.substr(0, 160) + "...";
  return text;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "an unknown host";
  return name;
}

// The holder written in the lock file: "PID HOST COMMAND".
struct Holder {
  long pid = 0;
  std::string host;
  std::string command;
};

Holder read_holder(int fd) {
  char buffer[512] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  Holder holder;
  if (n <= 0) return holder;
  std::istringstream in(std::string(buffer, static_cast<size_t>(n)));
  in >> holder.pid >> holder.host;
  std::getline(in >> std::ws, holder.command);
  return holder;
}

int open_lock_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) throw FileError(path + ": cannot open the folder's lock file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(path + ": the folder's lock file is not a regular file; remove it");
  }
  return fd;
}

}  // namespace

std::string FolderLock::lock_path(const std::string& folder) { return (fs::path(folder) / ".lock").string(); }

FolderLock::FolderLock(const std::string& folder, const std::string& what) : folder_(canonical_folder(folder)) {
  const std::string path = lock_path(folder_);
  const int fd = open_lock_file(path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const Holder holder = read_holder(fd);
    ::close(fd);
    if (error != EWOULDBLOCK) throw FileError(path + ": cannot lock it: " + std::strerror(error));
    // Our launcher (the parent that started this rank or cell) holds it for us.
    const char* passed = std::getenv(kPassedFolder);
    if (passed && passed == folder_ && holder.pid == static_cast<long>(::getppid())) return;
    throw Error(folder + " is in use by process " + std::to_string(holder.pid) + " on " +
                (holder.host.empty() ? "an unknown host" : holder.host) +
                (holder.command.empty() ? "" : " (" + holder.command + ")") +
                "; wait for it to end or stop it (" + what + " takes one writer per folder)");
  }
  const std::string text = std::to_string(static_cast<long>(::getpid())) + " " + host_name() + " " +
                           own_command_line() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int error = errno;
    ::close(fd);
    throw FileError(path + ": cannot write the folder's lock file: " + std::strerror(error));
  }
  fd_ = fd;
}

FolderLock::FolderLock(FolderLock&& other) noexcept : folder_(std::move(other.folder_)), fd_(other.fd_) {
  other.fd_ = -1;
}

FolderLock& FolderLock::operator=(FolderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    folder_ = std::move(other.folder_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

// The lock file stays: removing it would let a process that opened it just before take a lock on
// a file nobody else can see any more.
FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

void FolderLock::pass_to_children() const { ::setenv(kPassedFolder, folder_.c_str(), 1); }

FolderFlock::FolderFlock(const std::string& folder) {
  fd_ = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) throw FileError(folder + ": cannot open the folder: " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int error = errno;
    ::close(fd_);
    throw FileError(folder + ": cannot lock the folder: " + std::strerror(error));
  }
}

FolderFlock::~FolderFlock() { ::close(fd_); }

}  // namespace shardlab
