#include "core/experience_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace shardlab {
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

std::string quoted(const std::string& name) { return "'" + name + "'"; }

bool file_exists(const std::string& path) {
  struct stat status;
  return ::lstat(path.c_str(), &status) == 0;
}

// Makes a finished file durable before it gets its final name.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void sync_directory_of(const std::string& path) {
  const std::string directory = directory_of(path);
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writing

struct ExperienceWriter::Impl {
  std::string path;
  std::string temporary;
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
    std::remove(temporary.c_str());
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

  struct stat status;
  const std::string directory = directory_of(path);
  if (::stat(directory.c_str(), &status) != 0 || !S_ISDIR(status.st_mode))
    throw InputError(path + ": directory " + quoted(directory) + " does not exist");
  if (::stat(path.c_str(), &status) == 0) {
    if (S_ISDIR(status.st_mode)) throw InputError(path + " is a directory");
    if (!overwrite) throw InputError(path + " exists; pass --force to overwrite");
  }

  // A unique temporary even when this process writes the same path twice at once.
  const std::string base = path + ".tmp." + std::to_string(::getpid());
  m.temporary = base;
  for (int attempt = 1; file_exists(m.temporary); ++attempt) m.temporary = base + "." + std::to_string(attempt);
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
  sync_file(m.temporary);

  // Without overwrite, link() publishes the file only if the name is still free, so a file that
  // appeared meanwhile is not clobbered. Filesystems without hard links fall back to rename().
  bool published = false;
  if (!m.overwrite) {
    if (::link(m.temporary.c_str(), m.path.c_str()) == 0) {
      ::unlink(m.temporary.c_str());
      published = true;
    } else if (errno == EEXIST) {
      m.discard();
      m.closed = true;
      throw InputError(m.path + " exists; pass --force to overwrite");
    }
  }
  if (!published && ::rename(m.temporary.c_str(), m.path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    m.discard();
    m.closed = true;
    throw FileError(m.path + ": cannot move " + m.temporary + " into place: " + reason);
  }
  sync_directory_of(m.path);
  m.closed = true;
}

const std::string& ExperienceWriter::path() const { return impl_->path; }
const std::string& ExperienceWriter::temporary_path() const { return impl_->temporary; }
int64_t ExperienceWriter::rows() const { return impl_->rows; }

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

bool is_numeric(Hdf5Class c) { return c == Hdf5Class::kFloat || c == Hdf5Class::kInteger || c == Hdf5Class::kBool; }

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
ExperienceColumns check_columns(const Hdf5File& file, const ColumnReader& reader) {
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

}  // namespace

Experience read_experience(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path);
  const ColumnReader reader(file);
  const ExperienceColumns c = check_columns(file, reader);
  const auto n = static_cast<size_t>(c.rows);
  Experience e;

  // Observations.
  e.observation_spec.shape = c.observations.row_shape();
  if (file.has_attribute("/", "observation_shape")) {
    const std::vector<int64_t> shape = file.int_array_attribute("/", "observation_shape");
    if (shape != e.observation_spec.shape)
      reader.fail("attribute 'observation_shape' " + format_shape(shape) + " disagrees with dataset 'observations' " +
                  format_shape(c.observations.shape));
  }
  const float infinity = std::numeric_limits<float>::infinity();
  e.observation_spec.low =
      file.has_attribute("/", "observation_low") ? float(file.double_attribute("/", "observation_low")) : -infinity;
  e.observation_spec.high =
      file.has_attribute("/", "observation_high") ? float(file.double_attribute("/", "observation_high")) : infinity;
  e.observations = file.read<float>("observations").data;
  if (c.next_observations) e.next_observations = file.read<float>("next_observations").data;

  // Actions: the dataset's dtype decides discrete or continuous.
  const bool discrete = c.actions.element_class != Hdf5Class::kFloat;
  if (file.has_attribute("/", "action_discrete") && (file.int_attribute("/", "action_discrete") != 0) != discrete)
    reader.fail("attribute 'action_discrete' disagrees with dataset 'actions' of dtype " + c.actions.dtype);
  ActionSpec& a = e.action_spec;
  a.discrete = discrete;
  if (discrete) {
    reader.require_column("actions", c.actions);
    e.discrete_actions = file.read<int64_t>("actions").data;
    int64_t largest = -1;
    for (size_t i = 0; i < n; ++i) {
      if (e.discrete_actions[i] < 0)
        reader.fail("dataset 'actions' holds action " + std::to_string(e.discrete_actions[i]) + " at row " +
                    std::to_string(i));
      largest = std::max(largest, e.discrete_actions[i]);
    }
    a.num_actions =
        file.has_attribute("/", "action_num_actions") ? file.int_attribute("/", "action_num_actions") : largest + 1;
    if (largest >= a.num_actions)
      reader.fail("dataset 'actions' holds action " + std::to_string(largest) + ", but the file has " +
                  std::to_string(a.num_actions) + " actions");
  } else {
    if (c.actions.shape.size() > 2)
      reader.fail("dataset 'actions' has shape " + format_shape(c.actions.shape) + ", expected (N,) or (N, dim)");
    a.dim = c.actions.shape.size() == 2 ? c.actions.shape[1] : 1;
    e.continuous_actions = file.read<float>("actions").data;
    if (file.has_attribute("/", "action_low") && file.has_attribute("/", "action_high")) {
      a.low = float(file.double_attribute("/", "action_low"));
      a.high = float(file.double_attribute("/", "action_high"));
    } else if (!e.continuous_actions.empty()) {
      // D4RL's actions are normalised to [-1, 1]; keep that unless the data says otherwise.
      const auto [lo, hi] = std::minmax_element(e.continuous_actions.begin(), e.continuous_actions.end());
      if (*lo < -1.0f || *hi > 1.0f) {
        a.low = *lo;
        a.high = *hi;
      }
    }
  }

  e.rewards = file.read<float>("rewards").data;
  e.terminals = reader.flags("terminals", c.terminals);
  e.timeouts = c.timeouts ? reader.flags("timeouts", *c.timeouts) : std::vector<uint8_t>(n, 0);
  for (const auto& [name, info] : c.infos) e.infos[name] = file.read<int64_t>("infos/" + name).data;

  try {
    e.check_consistent();
  } catch (const Error& error) {
    reader.fail(error.what());
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Summary and listing

ExperienceSummary summarize_experience(const std::vector<float>& rewards, const std::vector<uint8_t>& terminals,
                                       const std::vector<uint8_t>& timeouts) {
  if (terminals.size() != rewards.size() || timeouts.size() != rewards.size())
    throw InputError("summarize_experience: " + std::to_string(rewards.size()) + " rewards, " +
                     std::to_string(terminals.size()) + " terminals, " + std::to_string(timeouts.size()) + " timeouts");
  ExperienceSummary s;
  s.transitions = static_cast<int64_t>(rewards.size());
  std::vector<double> returns;
  std::vector<int64_t> lengths;
  double episode_return = 0.0;
  int64_t length = 0;
  for (size_t i = 0; i < rewards.size(); ++i) {
    episode_return += rewards[i];
    ++length;
    if (terminals[i] || timeouts[i]) {
      (terminals[i] ? s.terminated : s.timed_out) += 1;
      returns.push_back(episode_return);
      lengths.push_back(length);
      episode_return = 0.0;
      length = 0;
    }
  }
  s.episodes = static_cast<int64_t>(returns.size());
  s.unfinished_length = length;
  if (returns.empty()) return s;

  double sum = 0.0;
  for (double r : returns) sum += r;
  s.return_mean = sum / static_cast<double>(returns.size());
  double squares = 0.0;
  for (double r : returns) squares += (r - s.return_mean) * (r - s.return_mean);
  s.return_std = std::sqrt(squares / static_cast<double>(returns.size()));
  s.return_min = *std::min_element(returns.begin(), returns.end());
  s.return_max = *std::max_element(returns.begin(), returns.end());
  int64_t total = 0;
  for (int64_t l : lengths) total += l;
  s.length_mean = static_cast<double>(total) / static_cast<double>(lengths.size());
  s.length_min = *std::min_element(lengths.begin(), lengths.end());
  s.length_max = *std::max_element(lengths.begin(), lengths.end());
  return s;
}

namespace {

std::string number(double value) {
  std::ostringstream out;
  out.precision(6);
  out << value;
  return out.str();
}

std::string member_description(const Hdf5Member& m) {
  switch (m.kind) {
    case Hdf5Member::Kind::kGroup:
      return "group";
    case Hdf5Member::Kind::kDataset: {
      std::string text = "dataset " + format_shape(m.shape) + " " + m.dtype;
      if (!m.chunk_shape.empty()) text += ", chunks " + format_shape(m.chunk_shape);
      if (!m.filters.empty()) text += ", " + m.filters;
      return text;
    }
    case Hdf5Member::Kind::kNamedType:
      return "named datatype";
    case Hdf5Member::Kind::kSoftLink:
      return "soft link -> " + m.link_target;
    case Hdf5Member::Kind::kExternalLink:
      return "external link -> " + m.link_target;
    default:
      return "object that cannot be opened";
  }
}

void describe_experience(const Hdf5File& file, std::ostream& out) {
  const ColumnReader reader(file);
  const ExperienceColumns c = check_columns(file, reader);
  const std::vector<float> rewards = file.read<float>("rewards").data;
  const std::vector<uint8_t> terminals = reader.flags("terminals", c.terminals);
  const std::vector<uint8_t> timeouts =
      c.timeouts ? reader.flags("timeouts", *c.timeouts) : std::vector<uint8_t>(rewards.size(), 0);
  const ExperienceSummary s = summarize_experience(rewards, terminals, timeouts);

  // Per-row shape and dtype: "(3, 25, 25) float32", or just "int64" for one value per row.
  auto row = [](const Hdf5DatasetInfo& info) {
    return info.shape.size() > 1 ? format_shape(info.row_shape()) + " " + info.dtype : info.dtype;
  };
  out << "experience: " << s.transitions << " transitions, observations " << row(c.observations) << ", actions "
      << row(c.actions) << (c.timeouts ? "" : ", no timeouts dataset") << "\n";
  out << "  episodes: " << s.episodes << " finished (" << s.terminated << " terminated, " << s.timed_out
      << " timed out), ";
  if (s.unfinished_length > 0)
    out << "1 unfinished (" << s.unfinished_length << " transitions after the last episode end)\n";
  else
    out << "0 unfinished\n";
  if (s.episodes == 0) {
    out << "  return: no finished episodes\n";
    return;
  }
  out << "  return (finished episodes): mean " << number(s.return_mean) << " std " << number(s.return_std) << " min "
      << number(s.return_min) << " max " << number(s.return_max) << "\n";
  out << "  length (finished episodes): mean " << number(s.length_mean) << " min " << s.length_min << " max "
      << s.length_max << "\n";
}

}  // namespace

std::string describe_h5(const std::string& path) {
  const Hdf5File file = Hdf5File::open(path);
  std::ostringstream out;
  struct stat status;
  out << path << ": HDF5 file";
  if (::stat(path.c_str(), &status) == 0) out << ", " << status.st_size << " bytes";
  out << "\n";

  const std::vector<Hdf5Member> members = file.list();
  size_t width = 0;
  for (const Hdf5Member& m : members) width = std::max(width, m.path.size());
  width = std::min<size_t>(width, 40);
  for (const Hdf5Member& m : members) {
    out << m.path << std::string(width > m.path.size() ? width - m.path.size() : 0, ' ') << "  "
        << member_description(m) << "\n";
    for (const Hdf5Attribute& a : m.attributes) out << "    @" << a.name << " = " << a.value << "\n";
  }

  const bool experience =
      file.has_dataset("observations") && file.has_dataset("rewards") && file.has_dataset("terminals");
  if (experience) {
    try {
      describe_experience(file, out);
    } catch (const Error& e) {
      out << "experience summary unavailable: " << e.what() << "\n";
    }
  }
  return out.str();
}

}  // namespace shardlab
