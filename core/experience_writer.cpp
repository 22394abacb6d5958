#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_columns.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"

namespace shardlab {
using experience_columns::quoted;
namespace {

constexpr int64_t kFormatVersion = 1;
constexpr const char* kFormatName = "shardlab-experience";

// Chosen with bench/bench_hdf5.cpp (BM_Hdf5AppendObservations) on maze observations (0/1 float
// grids): with the shuffle filter, gzip level 3 appends within ~15% of level 1's speed and makes
// files 3x smaller (zlib's level 3 searches longer for the repeats between consecutive rows;
// levels 4-5 search less far and lose that); chunks above ~256 KiB are barely smaller.
Hdf5DatasetOptions column_options() {
  Hdf5DatasetOptions options;
  options.gzip_level = 3;
  options.shuffle = true;
  options.chunk_bytes = 256 * 1024;
  return options;
}

}  // namespace

struct ExperienceWriter::Impl {
  std::string path;
  std::string temporary;
  std::optional<AtomicFile> atomic;  // the temporary name and the final rename
  ObservationSpec observation_spec;
  ActionSpec action_spec;
  bool with_next_observations = false;
  std::set<std::string> info_names;
  bool overwrite = false;
  std::optional<Hdf5File> file;
  int64_t rows = 0;
  bool closed = false;
  bool broken = false;  // an append failed halfway: the columns may disagree

  void discard() {
    file.reset();
    if (atomic) atomic->discard();
  }

  [[noreturn]] void input_error(const std::string& what) const { throw InputError(path + ": " + what); }

  void check_batch(const Experience& batch) const {
    try {
      batch.check_consistent();
    } catch (const Error& e) {
      input_error(e.what());
    }
    if (batch.observation_spec.shape != observation_spec.shape)
      input_error("batch observations have shape " + format_shape(batch.observation_spec.shape) + ", the file holds " +
                  format_shape(observation_spec.shape));
    const ActionSpec& a = batch.action_spec;
    if (a.discrete != action_spec.discrete)
      input_error(std::string("batch actions are ") + (a.discrete ? "discrete" : "continuous") + ", the file holds " +
                  (action_spec.discrete ? "discrete" : "continuous") + " ones");
    if (a.discrete && a.num_actions != action_spec.num_actions)
      input_error("batch has " + std::to_string(a.num_actions) + " actions, the file " +
                  std::to_string(action_spec.num_actions));
    if (!a.discrete && a.dim != action_spec.dim)
      input_error("batch actions have dim " + std::to_string(a.dim) + ", the file " + std::to_string(action_spec.dim));
    if (batch.size() == 0) return;
    if (batch.has_next_observations() != with_next_observations)
      input_error(std::string("batch ") + (batch.has_next_observations() ? "has" : "lacks") +
                  " next_observations, the file " + (with_next_observations ? "holds them" : "does not"));
    std::set<std::string> names;
    for (const auto& [name, column] : batch.infos) names.insert(name);
    if (names != info_names) {
      auto list = [](const std::set<std::string>& s) {
        std::string out;
        for (const std::string& n : s) out += (out.empty() ? "" : ", ") + n;
        return "[" + out + "]";
      };
      input_error("batch infos " + list(names) + " differ from the file's " + list(info_names));
    }
    if (a.discrete) {
      for (size_t i = 0; i < batch.discrete_actions.size(); ++i) {
        const int64_t action = batch.discrete_actions[i];
        if (action < 0 || action >= action_spec.num_actions)
          input_error("batch row " + std::to_string(i) + " has action " + std::to_string(action) + ", outside [0, " +
                      std::to_string(action_spec.num_actions) + ")");
      }
    }
  }
};

ExperienceWriter::ExperienceWriter(const std::string& path, const ObservationSpec& observation_spec,
                                   const ActionSpec& action_spec, bool with_next_observations,
                                   std::vector<std::string> info_names, std::map<std::string, std::string> metadata,
                                   bool overwrite)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.observation_spec = observation_spec;
  m.action_spec = action_spec;
  m.with_next_observations = with_next_observations;
  m.overwrite = overwrite;

  if (path.empty()) throw InputError("experience file: empty path");
  for (int64_t d : observation_spec.shape)
    if (d < 1) m.input_error("observation shape " + format_shape(observation_spec.shape) + " has a dimension < 1");
  if (action_spec.discrete && action_spec.num_actions < 1)
    m.input_error("discrete actions need num_actions >= 1, got " + std::to_string(action_spec.num_actions));
  if (!action_spec.discrete && action_spec.dim < 1)
    m.input_error("continuous actions need dim >= 1, got " + std::to_string(action_spec.dim));
  for (const std::string& name : info_names) {
    if (name.empty() || name.find('/') != std::string::npos) m.input_error("bad info name " + quoted(name));
    if (!m.info_names.insert(name).second) m.input_error("info name " + quoted(name) + " given twice");
  }
  for (const auto& [key, value] : metadata)
    if (key.empty()) m.input_error("metadata key is empty");

  claim_outputs({path}, overwrite);
  m.atomic.emplace(path);  // InputError for a missing folder or a path that is not a regular file
  m.temporary = m.atomic->temporary_path();
  m.file.emplace(Hdf5File::create_new(m.temporary));

  try {
    Hdf5File& f = *m.file;
    const Hdf5DatasetOptions options = column_options();
    f.create_dataset("observations", Hdf5Type::kFloat32, observation_spec.shape, options);
    if (action_spec.discrete)
      f.create_dataset("actions", Hdf5Type::kInt64, {}, options);
    else
      f.create_dataset("actions", Hdf5Type::kFloat32, {action_spec.dim}, options);
    f.create_dataset("rewards", Hdf5Type::kFloat32, {}, options);
    f.create_dataset("terminals", Hdf5Type::kBool, {}, options);
    f.create_dataset("timeouts", Hdf5Type::kBool, {}, options);
    if (with_next_observations)
      f.create_dataset("next_observations", Hdf5Type::kFloat32, observation_spec.shape, options);
    for (const std::string& name : m.info_names) f.create_dataset("infos/" + name, Hdf5Type::kInt64, {}, options);

    f.set_string_attribute("/", "format", kFormatName);
    f.set_int_attribute("/", "format_version", kFormatVersion);
    f.set_int_array_attribute("/", "observation_shape", observation_spec.shape);
    f.set_double_attribute("/", "observation_low", observation_spec.low);
    f.set_double_attribute("/", "observation_high", observation_spec.high);
    f.set_int_attribute("/", "action_discrete", action_spec.discrete ? 1 : 0);
    if (action_spec.discrete) {
      f.set_int_attribute("/", "action_num_actions", action_spec.num_actions);
    } else {
      f.set_int_attribute("/", "action_dim", action_spec.dim);
      f.set_double_attribute("/", "action_low", action_spec.low);
      f.set_double_attribute("/", "action_high", action_spec.high);
    }
    f.create_group("metadata");
    for (const auto& [key, value] : metadata) f.set_string_attribute("metadata", key, value);
  } catch (...) {
    m.discard();
    throw;
  }
}

ExperienceWriter::~ExperienceWriter() {
  if (impl_ && !impl_->closed) impl_->discard();
}

void ExperienceWriter::append(const Experience& batch) {
  Impl& m = *impl_;
  if (m.closed) m.input_error("cannot append, the writer is closed");
  if (m.broken) throw FileError(m.path + ": an earlier append failed; the file cannot be finished");
  m.check_batch(batch);
  const size_t n = batch.size();
  if (n == 0) return;
  try {
    Hdf5File& f = *m.file;
    f.append("observations", batch.observations);
    if (m.action_spec.discrete)
      f.append("actions", batch.discrete_actions);
    else
      f.append("actions", batch.continuous_actions);
    f.append("rewards", batch.rewards);
    f.append("terminals", batch.terminals);
    f.append("timeouts", batch.timeouts);
    if (m.with_next_observations) f.append("next_observations", batch.next_observations);
    for (const auto& [name, column] : batch.infos) f.append("infos/" + name, column);
  } catch (...) {
    m.broken = true;
    throw;
  }
  m.rows += static_cast<int64_t>(n);
}

void ExperienceWriter::set_metadata(const std::map<std::string, std::string>& metadata) {
  Impl& m = *impl_;
  if (m.closed) m.input_error("cannot set metadata, the writer is closed");
  for (const auto& [key, value] : metadata) {
    if (key.empty()) m.input_error("metadata key is empty");
    m.file->set_string_attribute("metadata", key, value);
  }
}

void ExperienceWriter::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  if (m.broken) {
    m.discard();
    m.closed = true;
    throw FileError(m.path + ": an earlier append failed; nothing was written");
  }
  try {
    m.file->close();
  } catch (...) {
    m.discard();
    m.closed = true;
    throw;
  }
  m.file.reset();
  try {
    m.atomic->commit(/*replace=*/m.overwrite);  // without overwrite, a file that appeared meanwhile is kept
  } catch (...) {
    m.discard();
    m.closed = true;
    throw;
  }
  m.closed = true;
}

const std::string& ExperienceWriter::path() const { return impl_->path; }
const std::string& ExperienceWriter::temporary_path() const { return impl_->temporary; }
int64_t ExperienceWriter::rows() const { return impl_->rows; }

}  // namespace shardlab
