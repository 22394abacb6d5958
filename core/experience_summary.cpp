#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/experience_columns.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"

namespace shardlab {
using namespace experience_columns;

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
    } catch (const CorruptFile&) {
      throw;
    } catch (const Error& e) {  // a file that is not quite experience is still listed
      out << "experience summary unavailable: " << e.what() << "\n";
    }
  }
  return out.str();
}

}  // namespace shardlab
