// Small text helpers shared by the spec parser, the CLI and the run folders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shardlab {

// The whole of `text` as a base-10 integer, or nothing (no partial parses: "8x" is nothing).
std::optional<int64_t> parse_integer(const std::string& text);
// The whole of `text` as a finite number, or nothing ("1.5x", "nan" and "inf" are nothing).
std::optional<double> parse_double(const std::string& text);

// Writes `text` to `path` through AtomicFile (core/atomic_file.h). Throws FileError.
void write_text_file(const std::string& path, const std::string& text);
// The whole file; FileError if it cannot be read or is not a regular file (check_regular_file).
std::string read_text_file(const std::string& path);
// What a file that is not a regular one is, as messages name it: "a folder", "a symbolic link",
// "a FIFO (named pipe)", "a socket", "a device" (`mode` as stat(2) gives it).
std::string file_kind(unsigned mode);
// FileError unless `path` is a regular file (or a link to one): "no such file", "is a folder",
// "is a FIFO (named pipe), not a regular file", ... A FIFO would block the reader forever.
void check_regular_file(const std::string& path);

// `text` without the spaces, tabs and carriage returns at either end.
std::string trim(const std::string& text);
// The words of `text`, as separated by whitespace ("a  b\tc" -> a, b, c).
std::vector<std::string> words(const std::string& text);

// Whether `text` ends with `tail`.
bool ends_with(const std::string& text, const std::string& tail);

// The pieces of `text` between separators, empty ones included ("a,,b" -> a, "", b).
std::vector<std::string> split(const std::string& text, char separator);

// `values` in base 10 between separators: {64, 128, 128} -> "64,128,128" (how spec lists read).
std::string join(const std::vector<int64_t>& values, const std::string& separator = ",");
std::string join(const std::vector<std::string>& values, const std::string& separator = ",");

// `value` as an error message shows it: control characters escaped (\x00), and a long value cut
// to its first 60 characters with its length ("aaaa... (10485760 characters)").
std::string shown(const std::string& value);

// The text before the first line break: a library's error (libtorch's carry a backtrace) as one line.
std::string first_line(const std::string& text);

// The current time in UTC as ISO 8601 text, "2024-05-01T12:00:00Z" (run.json's history).
std::string utc_timestamp();

}  // namespace shardlab
