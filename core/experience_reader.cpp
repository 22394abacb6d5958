#include <algorithm>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/experience_columns.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"

namespace shardlab {
using namespace experience_columns;

struct ExperienceReader::Impl {
  Hdf5File file;
  ExperienceColumns columns;
  ObservationSpec observation_spec;
  ActionSpec action_spec;
  std::map<std::string, std::string> metadata;
  std::vector<uint8_t> terminals, timeouts;
  explicit Impl(Hdf5File f) : file(std::move(f)) {}
};

ExperienceReader::ExperienceReader(const std::string& path) : impl_(std::make_unique<Impl>(Hdf5File::open(path))) {
  Impl& m = *impl_;
  const Hdf5File& file = m.file;
  const ColumnReader reader(file);
  m.columns = check_columns(file, reader);
  const ExperienceColumns& c = m.columns;

  // Observations: a row of features per transition ((N,) would be one number with no shape).
  m.observation_spec.shape = c.observations.row_shape();
  if (m.observation_spec.shape.empty())
    reader.fail("dataset 'observations' is " + format_shape(c.observations.shape) +
                ": expected (N, features...), a row of features per transition");
  if (file.has_attribute("/", "observation_shape")) {
    const std::vector<int64_t> shape = file.int_array_attribute("/", "observation_shape");
    if (shape != m.observation_spec.shape)
      reader.fail("attribute 'observation_shape' " + format_shape(shape) + " disagrees with dataset 'observations' " +
                  format_shape(c.observations.shape));
  }
  const float infinity = std::numeric_limits<float>::infinity();
  m.observation_spec.low =
      file.has_attribute("/", "observation_low") ? float(file.double_attribute("/", "observation_low")) : -infinity;
  m.observation_spec.high =
      file.has_attribute("/", "observation_high") ? float(file.double_attribute("/", "observation_high")) : infinity;

  // Actions: the dataset's dtype decides discrete or continuous; the specs that the attributes do
  // not give are inferred from the whole column (small next to the observations).
  const bool discrete = c.actions.element_class != Hdf5Class::kFloat;
  if (file.has_attribute("/", "action_discrete") && (file.int_attribute("/", "action_discrete") != 0) != discrete)
    reader.fail("attribute 'action_discrete' disagrees with dataset 'actions' of dtype " + c.actions.dtype);
  ActionSpec& a = m.action_spec;
  a.discrete = discrete;
  if (discrete) {
    reader.require_column("actions", c.actions);
    const std::vector<int64_t> actions = file.read<int64_t>("actions").data;
    int64_t largest = -1;
    for (size_t i = 0; i < actions.size(); ++i) {
      if (actions[i] < 0)
        reader.fail("dataset 'actions' holds action " + std::to_string(actions[i]) + " at row " + std::to_string(i));
      largest = std::max(largest, actions[i]);
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
    if (file.has_attribute("/", "action_low") && file.has_attribute("/", "action_high")) {
      a.low = float(file.double_attribute("/", "action_low"));
      a.high = float(file.double_attribute("/", "action_high"));
    } else if (c.rows > 0) {
      // D4RL's actions are normalised to [-1, 1]; keep that unless the data says otherwise.
      const std::vector<float> actions = file.read<float>("actions").data;
      const auto [lo, hi] = std::minmax_element(actions.begin(), actions.end());
      if (*lo < -1.0f || *hi > 1.0f) {
        a.low = *lo;
        a.high = *hi;
      }
    }
  }

  m.terminals = reader.flags("terminals", c.terminals);
  m.timeouts = c.timeouts ? reader.flags("timeouts", *c.timeouts) : std::vector<uint8_t>(m.terminals.size(), 0);
  if (file.has_group("metadata"))
    for (const Hdf5Attribute& attribute : file.attributes("metadata")) {
      try {
        m.metadata[attribute.name] = file.string_attribute("metadata", attribute.name);
      } catch (const FileError&) {
        // Numeric metadata (other writers') is not ours to interpret: kept out.
      }
    }
}

ExperienceReader::ExperienceReader(ExperienceReader&&) noexcept = default;
ExperienceReader& ExperienceReader::operator=(ExperienceReader&&) noexcept = default;
ExperienceReader::~ExperienceReader() = default;

const std::string& ExperienceReader::path() const { return impl_->file.path(); }
int64_t ExperienceReader::rows() const { return impl_->columns.rows; }
const ObservationSpec& ExperienceReader::observation_spec() const { return impl_->observation_spec; }
const ActionSpec& ExperienceReader::action_spec() const { return impl_->action_spec; }
bool ExperienceReader::has_next_observations() const { return impl_->columns.next_observations.has_value(); }
const std::map<std::string, std::string>& ExperienceReader::metadata() const { return impl_->metadata; }
const std::vector<uint8_t>& ExperienceReader::terminals() const { return impl_->terminals; }
const std::vector<uint8_t>& ExperienceReader::timeouts() const { return impl_->timeouts; }

Experience ExperienceReader::read(int64_t begin, int64_t count) const {
  const Impl& m = *impl_;
  const ColumnReader reader(m.file);
  if (begin < 0 || count < 0 || begin + count > m.columns.rows)
    reader.fail("rows [" + std::to_string(begin) + ", " + std::to_string(begin + count) + ") are outside the file's " +
                std::to_string(m.columns.rows));
  Experience e;
  e.observation_spec = m.observation_spec;
  e.action_spec = m.action_spec;
  const Hdf5File& f = m.file;
  e.observations = f.read_rows<float>("observations", begin, count).data;
  if (m.columns.next_observations) e.next_observations = f.read_rows<float>("next_observations", begin, count).data;
  if (m.action_spec.discrete) {
    e.discrete_actions = f.read_rows<int64_t>("actions", begin, count).data;
    for (int64_t i = 0; i < count; ++i)
      if (e.discrete_actions[i] >= m.action_spec.num_actions)  // checked at open; guards a file changed since
        reader.fail("dataset 'actions' holds action " + std::to_string(e.discrete_actions[i]) + " at row " +
                    std::to_string(begin + i));
  } else {
    e.continuous_actions = f.read_rows<float>("actions", begin, count).data;
  }
  e.rewards = f.read_rows<float>("rewards", begin, count).data;
  e.terminals.assign(m.terminals.begin() + begin, m.terminals.begin() + begin + count);
  e.timeouts.assign(m.timeouts.begin() + begin, m.timeouts.begin() + begin + count);
  for (const auto& [name, info] : m.columns.infos)
    e.infos[name] = f.read_rows<int64_t>("infos/" + name, begin, count).data;
  try {
    e.check_consistent();
  } catch (const Error& error) {
    reader.fail(error.what());
  }
  return e;
}

std::vector<int64_t> ExperienceReader::next_indices() const {
  const Impl& m = *impl_;
  const auto n = static_cast<int64_t>(m.terminals.size());
  std::vector<int64_t> next(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (m.terminals[i])
      next[i] = i;
    else if (m.timeouts[i] || i + 1 == n)
      next[i] = kNoNext;
    else
      next[i] = i + 1;
  }
  return next;
}

Experience read_experience(const std::string& path) {
  const ExperienceReader reader(path);
  return reader.read(0, reader.rows());
}

}  // namespace shardlab
