// The one way shardlab writes a file a user keeps: under a temporary name in the same folder
// (`<path>.tmp.<pid>[.<n>]`), fsync, then rename onto the final name and fsync the folder. A
// reader never sees half a file, a killed process never leaves a partial file under the final
// name, and what was there before stays intact until the new file is complete.
//
// Only regular files are ever replaced: a symlink, device, folder or socket at the final path is
// refused (FileError), so `--force` can never turn /dev/null into a file.
//
// After a kill: SIGINT and SIGTERM remove every temporary still open (once
// remove_temporaries_on_signals() is installed, as the command line does); SIGKILL cannot be
// caught, so the next AtomicFile for the same path removes the temporaries of processes that are
// gone, saying so on stderr.
#pragma once

#include <string>
#include <vector>

namespace shardlab {

class AtomicFile {
 public:
  // Chooses a free temporary name next to `path`; InputError if the folder does not exist or
  // `path` is something other than a regular file.
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // Without commit(): removes the temporary; the final path is left as it was.
  ~AtomicFile();

  const std::string& path() const { return path_; }
  // Where the caller writes (any library that takes a file name: HDF5, libtorch, streams).
  const std::string& temporary_path() const { return temporary_; }
  // Writes `contents` as the whole temporary; throw_write_failure on failure (a full disk is a
  // StorageError naming path()).
  void write(const std::string& contents) const;

  // fsyncs the temporary and renames it onto path(). With `replace` false, an existing file at
  // path() is kept and InputError is thrown (link() publishes only if the name is still free).
  void commit(bool replace = true);
  // Removes the temporary now.
  void discard();

  // Installs SIGINT/SIGTERM handlers that unlink the open temporaries, then die of the signal.
  static void remove_temporaries_on_signals();

 private:
  std::string path_;
  std::string temporary_;
  bool done_ = false;
};

// A folder written whole, the same way: built under `<path>.tmp.<pid>[.<n>]` next to `path`, then
// moved into place complete. An earlier folder at `path` is swapped out in one step
// (renameat2's RENAME_EXCHANGE) and removed only afterwards; where the filesystem cannot exchange,
// it is renamed to `<path>.old.<pid>`, the new one renamed in, then the old one removed. A reader
// sees the old folder or the new one, never a mix. Temporary folders left by a kill (any signal:
// a handler cannot remove a tree safely) are removed by the next AtomicFolder or AtomicFile for
// the same path, once their process is gone.
class AtomicFolder {
 public:
  // Creates the temporary folder; InputError if the parent folder does not exist or `path` is
  // something other than a folder.
  explicit AtomicFolder(std::string path);
  AtomicFolder(const AtomicFolder&) = delete;
  AtomicFolder& operator=(const AtomicFolder&) = delete;
  // Without commit(): removes the temporary folder and all in it; `path` is left as it was.
  ~AtomicFolder();

  const std::string& path() const { return path_; }
  // Where the caller builds the folder's contents.
  const std::string& temporary_path() const { return temporary_; }

  // Moves the temporary folder onto path(), replacing a folder there (never anything else).
  void commit();

 private:
  std::string path_;
  std::string temporary_;
  bool done_ = false;
};

// The bytes of `contents` as the file `path`, through AtomicFile. FileError on failure.
void write_file_atomically(const std::string& path, const std::string& contents, bool replace = true);

// A name next to `base` that nothing holds yet: base, base.1, base.2, ... (nothing is ever replaced).
std::string free_name(const std::string& base);

// The final name of a temporary `<path>.tmp.<pid>[.<n>]` (what a message names), or `path` itself.
std::string final_name_of(const std::string& path);

// A failed write of `path`: StorageError when its filesystem is full (errno ENOSPC or EDQUOT, or
// less than 1 MiB free), read-only or failing (EROFS, EIO), else FileError. `what` says what failed;
// `error_number` is the errno of the failed call, if known (0 otherwise).
[[noreturn]] void throw_write_failure(const std::string& path, const std::string& what, int error_number = 0);

// Refuses (InputError) a path that exists and is not a regular file; used before opening
// anything for writing.
void check_replaceable(const std::string& path);

// The one rule for the files a command writes: an existing output is kept unless `force`.
// Called with every output's path before the work starts, so a long command never fails at
// its end; InputError "PATH exists; pass --force to overwrite" for the first one that exists
// (and check_replaceable for each).
void claim_outputs(const std::vector<std::string>& paths, bool force);

}  // namespace shardlab
