// The column checks an experience file's reader and its description share (internal to core/):
// names, dtypes and shapes of every dataset, and one row count, checked before any data is read.
// Every error is one FileError line naming the file and the dataset.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace shardlab::experience_columns {

inline std::string quoted(const std::string& name) { return "'" + name + "'"; }

inline bool is_numeric(Hdf5Class c) {
  return c == Hdf5Class::kFloat || c == Hdf5Class::kInteger || c == Hdf5Class::kBool;
}

// Reads the columns of an experience file with the checks both read_experience and describe_h5
// need. Every error is one line naming the file and the dataset.
class ColumnReader {
 public:
  explicit ColumnReader(const Hdf5File& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& what) const { throw FileError(file_.path() + ": " + what); }

  Hdf5DatasetInfo require(const std::string& name, const char* hint = "") const {
    if (!file_.has_dataset(name)) fail("dataset " + quoted(name) + " missing" + hint);
    Hdf5DatasetInfo info = file_.dataset_info(name);
    if (!is_numeric(info.element_class))
      fail("dataset " + quoted(name) + " has dtype " + info.dtype + ", expected numbers");
    if (info.shape.empty()) fail("dataset " + quoted(name) + " is a scalar, expected one row per transition");
    return info;
  }

  // (N,) or (N, 1), as D4RL stores rewards.
  void require_column(const std::string& name, const Hdf5DatasetInfo& info) const {
    if (info.shape.size() > 2 || (info.shape.size() == 2 && info.shape[1] != 1))
      fail("dataset " + quoted(name) + " has shape " + format_shape(info.shape) + ", expected (N,) or (N, 1)");
  }

  void require_rows(const std::string& name, const Hdf5DatasetInfo& info, int64_t rows) const {
    if (info.rows() != rows)
      fail("dataset " + quoted(name) + " has " + std::to_string(info.rows()) + " rows, expected " +
           std::to_string(rows) + " (truncated file?)");
  }

  std::vector<uint8_t> flags(const std::string& name, const Hdf5DatasetInfo& info) const {
    std::vector<uint8_t> out(static_cast<size_t>(info.rows()));
    if (info.element_class == Hdf5Class::kBool) {
      out = file_.read<uint8_t>(name).data;
    } else if (info.element_class == Hdf5Class::kFloat) {
      const std::vector<double> values = file_.read<double>(name).data;
      for (size_t i = 0; i < out.size(); ++i) out[i] = values[i] != 0.0;
    } else {
      // Through int64 so that, say, -1 or 256 still reads as set.
      const std::vector<int64_t> values = file_.read<int64_t>(name).data;
      for (size_t i = 0; i < out.size(); ++i) out[i] = values[i] != 0;
    }
    return out;
  }

 private:
  const Hdf5File& file_;
};

struct ExperienceColumns {
  Hdf5DatasetInfo observations, actions, rewards, terminals;
  std::optional<Hdf5DatasetInfo> timeouts, next_observations;
  std::map<std::string, Hdf5DatasetInfo> infos;  // integer infos only
  int64_t rows = 0;
};

// Checks names, dtypes and shapes, and that every column has the same number of rows, before
// any data is read.
inline ExperienceColumns check_columns(const Hdf5File& file, const ColumnReader& reader) {
  ExperienceColumns c;
  c.observations = reader.require("observations", " (not an experience file)");
  c.actions = reader.require("actions");
  c.rewards = reader.require("rewards");
  c.terminals = reader.require("terminals");
  reader.require_column("rewards", c.rewards);
  reader.require_column("terminals", c.terminals);
  if (file.has_dataset("timeouts")) {
    c.timeouts = reader.require("timeouts");
    reader.require_column("timeouts", *c.timeouts);
  }
  if (file.has_dataset("next_observations")) {
    c.next_observations = reader.require("next_observations");
    if (c.next_observations->row_shape() != c.observations.row_shape())
      reader.fail("dataset 'next_observations' has rows of shape " + format_shape(c.next_observations->row_shape()) +
                  ", observations " + format_shape(c.observations.row_shape()));
  }
  if (file.has_group("infos")) {
    for (const std::string& name : file.member_names("infos")) {
      const std::string full = "infos/" + name;
      if (!file.has_dataset(full)) continue;
      const Hdf5DatasetInfo info = file.dataset_info(full);
      const bool integer = info.element_class == Hdf5Class::kInteger || info.element_class == Hdf5Class::kBool;
      const bool column = info.shape.size() == 1 || (info.shape.size() == 2 && info.shape[1] == 1);
      if (integer && column) c.infos.emplace(name, info);
    }
  }

  std::vector<std::pair<std::string, const Hdf5DatasetInfo*>> all = {
      {"observations", &c.observations}, {"actions", &c.actions}, {"rewards", &c.rewards}, {"terminals", &c.terminals}};
  if (c.timeouts) all.emplace_back("timeouts", &*c.timeouts);
  if (c.next_observations) all.emplace_back("next_observations", &*c.next_observations);
  for (const auto& [name, info] : c.infos) all.emplace_back("infos/" + name, &info);
  for (const auto& [name, info] : all) c.rows = std::max(c.rows, info->rows());
  for (const auto& [name, info] : all) reader.require_rows(name, *info, c.rows);
  return c;
}

}  // namespace shardlab::experience_columns
