// One writer per folder: an exclusive flock(2) on `<folder>/.lock`, held for as long as the
// FolderLock lives (a training run, a sweep, an ablation, a SLURM task's cell). The kernel drops
// the lock when its process ends, however it ends, so a lock left by a dead process never blocks.
// The file holds the holder's PID, host and command, so a second process is told who has it:
//   shardlab: error: runs/x is in use by process 1234 on host-a (shardlab train ...); ...
//
// A launcher that starts ranks or cell processes for a folder it holds passes it on to its
// children: FolderLock::pass_to_children() names the folder in the environment, and a child's
// FolderLock of that folder succeeds without locking when the lock file names its parent as the
// holder (it cannot take the lock itself: its parent has it).
#pragma once

#include <string>

namespace shardlab {

class FolderLock {
 public:
  // Takes the lock of `folder` (which must exist), or throws InputError naming the holder.
  // `what` is written into the lock file for that message ("shardlab train", ...).
  explicit FolderLock(const std::string& folder, const std::string& what);
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&& other) noexcept;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

  const std::string& folder() const { return folder_; }
  // Whether this process holds the flock itself (false: its launcher does).
  bool owner() const { return fd_ >= 0; }
  // Sets SHARDLAB_LOCKED_FOLDER so that the processes this one starts may work in the folder.
  void pass_to_children() const;

  // The lock file of `folder`.
  static std::string lock_path(const std::string& folder);

 private:
  std::string folder_;
  int fd_ = -1;
};

// A short exclusive flock(2) on a folder itself (no file is made), waited for: for a few renames
// of files that belong together (an experience file and its spec), which must not interleave with
// another process's renames of the same names.
class FolderFlock {
 public:
  explicit FolderFlock(const std::string& folder);
  FolderFlock(const FolderFlock&) = delete;
  FolderFlock& operator=(const FolderFlock&) = delete;
  ~FolderFlock();

 private:
  int fd_ = -1;
};

}  // namespace shardlab
