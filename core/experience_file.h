// Experience files: HDF5 in D4RL's layout (reference/offline.md, "Dataset file layout"), so D4RL
// files load here and h5py users read ours unchanged.
//
// At the root: observations (N, obs...) float32, actions (N,) int64 or (N, dim) float32,
// rewards (N,) float32, terminals and timeouts (N,) bool, optionally next_observations, and
// infos/<name> (N,) int64. The group `metadata` holds the caller's string attributes (environment
// spec, seed, policy, version). Root attributes hold the specs (observation_shape,
// observation_low/high, action_discrete, action_num_actions or action_dim, action_low/high) and
// format = "shardlab-experience", format_version = 1.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/experience.h"

namespace shardlab {

// Writes an experience file batch by batch. The file is written under a temporary name in the
// same directory (`<path>.tmp.<pid>`) and renamed to `path` only by close(), so a killed process
// never leaves a half-written file under the final name, and an existing file there stays
// untouched until close() succeeds.
class ExperienceWriter {
 public:
  // Throws InputError if `path` exists and !overwrite, FileError if the temporary cannot be created.
  ExperienceWriter(const std::string& path, const ObservationSpec& observation_spec, const ActionSpec& action_spec,
                   bool with_next_observations, std::vector<std::string> info_names,
                   std::map<std::string, std::string> metadata, bool overwrite);
  ExperienceWriter(const ExperienceWriter&) = delete;
  ExperienceWriter& operator=(const ExperienceWriter&) = delete;
  // Without close(): deletes the temporary; the final path is left as it was.
  ~ExperienceWriter();

  // Appends all rows of `batch`, whose specs, next_observations and info names must match the
  // writer's (InputError otherwise).
  void append(const Experience& batch);
  // Adds (or replaces) string attributes of the `metadata` group, e.g. facts known only once
  // the rows are written.
  void set_metadata(const std::map<std::string, std::string>& metadata);
  // Finishes the file and moves it to path(). Throws FileError (and deletes the temporary) if
  // that fails, or if an earlier append failed halfway.
  void close();

  const std::string& path() const;
  const std::string& temporary_path() const;
  int64_t rows() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads an experience file, ours or D4RL's (float64 observations, (N, 1) rewards, bool or uint8
// flags, int32 discrete actions), in row ranges. Without spec attributes the specs are inferred:
// the observation shape from the dataset (bounds -inf..inf), float actions as continuous with
// their width (bounds -1..1 when the data fits, else the data's range), integer actions as
// discrete with num_actions = max + 1. A missing `timeouts` reads as all false (old D4RL files
// lack it). infos/ datasets of integers or bools are read; others (D4RL's float qpos, ...) are
// skipped. Every problem is a FileError, one line naming the file and the dataset.
class ExperienceReader {
 public:
  // Opens the file and checks every column (names, dtypes, shapes, one row count).
  explicit ExperienceReader(const std::string& path);
  ExperienceReader(ExperienceReader&&) noexcept;
  ExperienceReader& operator=(ExperienceReader&&) noexcept;
  ~ExperienceReader();

  const std::string& path() const;
  int64_t rows() const;
  const ObservationSpec& observation_spec() const;
  const ActionSpec& action_spec() const;
  bool has_next_observations() const;
  // The `metadata` group's string attributes (what the writer stored: spec, policy, seed, ...);
  // empty for files without it (D4RL's).
  const std::map<std::string, std::string>& metadata() const;
  // Every row's terminal and timeout flag (one byte a row, read at open).
  const std::vector<uint8_t>& terminals() const;
  const std::vector<uint8_t>& timeouts() const;

  // Rows [begin, begin + count), every column.
  Experience read(int64_t begin, int64_t count) const;

  // For each row, where its next observation is when the file has no `next_observations`:
  // row i + 1 inside an episode; the row itself at a terminal (the next observation is never
  // used: no bootstrap); kNoNext where it is unknown, at a timeout (the next row starts another
  // episode) and at the file's last row if its episode is unfinished. D4RL's q-learning view
  // drops those rows the same way.
  static constexpr int64_t kNoNext = -1;
  std::vector<int64_t> next_indices() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A whole experience file: ExperienceReader(path).read(0, rows).
Experience read_experience(const std::string& path);

// Episodes in a stream of transitions: an episode ends at each row whose terminal or timeout
// flag is set (terminal wins when both are); rows after the last end form an unfinished episode.
struct ExperienceSummary {
  int64_t transitions = 0;
  int64_t episodes = 0;  // finished
  int64_t terminated = 0;
  int64_t timed_out = 0;
  int64_t unfinished_length = 0;  // rows after the last finished episode; 0: none
  // Over finished episodes (zero when there are none); std is the population std (numpy's).
  double return_mean = 0, return_std = 0, return_min = 0, return_max = 0;
  double length_mean = 0;
  int64_t length_min = 0, length_max = 0;
};

ExperienceSummary summarize_experience(const std::vector<float>& rewards, const std::vector<uint8_t>& terminals,
                                       const std::vector<uint8_t>& timeouts);

// Lists everything in any HDF5 file (groups, datasets with shape, dtype, chunks and filters,
// attributes with values) and, for an experience file, its episode summary. This is what
// `shardlab inspect FILE.h5` prints. Throws FileError if the file is not readable HDF5.
std::string describe_h5(const std::string& path);

}  // namespace shardlab
