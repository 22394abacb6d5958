// One error type family for the whole project. Every error carries enough context
// (file, line, key, value, what was expected) to be printed as one clear line.
#pragma once

#include <stdexcept>
#include <string>

namespace shardlab {

// Base of every error shardlab raises on purpose. The CLI prints what() as one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: a spec, a flag, a value out of range. Exit code 2 at the command line.
class InputError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read as what it claims to be (HDF5, checkpoint, layout file).
class FileError : public Error {
 public:
  using Error::Error;
};

// A file whose stored checksum does not match its bytes: it changed after it was written (a
// flipped bit, a partial copy). Never read past: what it would say cannot be trusted.
class CorruptFile : public FileError {
 public:
  using FileError::FileError;
};

// The machine could not store a file: a full disk, a quota, a read-only or failing filesystem.
// Not bad input: exit code 1 at the command line.
class StorageError : public Error {
 public:
  using Error::Error;
};

// A training loss that became NaN or infinite: the run stops and keeps its last good checkpoint.
class NonFiniteLoss : public Error {
 public:
  using Error::Error;
};

}  // namespace shardlab
