#include "offline/relabel.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/progress.h"
#include "core/rng.h"

namespace shardlab {

RewardLabel parse_reward_label(const std::string& name, const std::string& where) {
  if (name == "true") return RewardLabel::kTrue;
  if (name == "zero") return RewardLabel::kZero;
  if (name == "random") return RewardLabel::kRandom;
  if (name == "negative") return RewardLabel::kNegative;
  throw InputError(where + ": '" + name + "' is not a reward label (true, zero, random or negative)");
}

const char* reward_label_name(RewardLabel label) {
  switch (label) {
    case RewardLabel::kTrue:
      return "true";
    case RewardLabel::kZero:
      return "zero";
    case RewardLabel::kRandom:
      return "random";
    case RewardLabel::kNegative:
      return "negative";
  }
  return "?";
}

std::string describe_reward_label(RewardLabel label, uint64_t seed) {
  switch (label) {
    case RewardLabel::kTrue:
      return "true: the rewards as collected";
    case RewardLabel::kZero:
      return "zero: every reward 0";
    case RewardLabel::kRandom:
      return "random: U[" + std::to_string(static_cast<int>(kRandomRewardLow)) + ", " +
             std::to_string(static_cast<int>(kRandomRewardHigh)) + ") per transition, seed " + std::to_string(seed);
    case RewardLabel::kNegative:
      return "negative: minus the true reward";
  }
  return "?";
}

void relabel_rewards(RewardLabel label, uint64_t seed, int64_t first_row, std::vector<float>& rewards) {
  for (size_t i = 0; i < rewards.size(); ++i) {
    float& r = rewards[i];
    switch (label) {
      case RewardLabel::kTrue:
        break;
      case RewardLabel::kZero:
        r = 0.0f;
        break;
      case RewardLabel::kNegative:
        r = -r;
        break;
      case RewardLabel::kRandom: {
        const uint64_t bits = mix_seed(seed, static_cast<uint64_t>(first_row) + i);
        const double u = static_cast<double>(bits >> 40) * 0x1.0p-24;  // [0, 1), exact in float
        r = static_cast<float>(kRandomRewardLow + (kRandomRewardHigh - kRandomRewardLow) * u);
        break;
      }
    }
  }
}

TerminalLabel parse_terminal_label(const std::string& name, const std::string& where) {
  if (name == "keep") return TerminalLabel::kKeep;
  if (name == "timeout") return TerminalLabel::kTimeout;
  throw InputError(where + ": '" + name + "': expected keep or timeout (every terminal turned into a timeout)");
}

int64_t relabel_terminals(TerminalLabel label, std::vector<uint8_t>& terminals, std::vector<uint8_t>& timeouts) {
  if (label == TerminalLabel::kKeep) return 0;
  int64_t turned = 0;
  for (size_t i = 0; i < terminals.size(); ++i)
    if (terminals[i]) {
      terminals[i] = 0;
      timeouts[i] = 1;
      ++turned;
    }
  return turned;
}

namespace {

// A copy must not carry a non-finite number the learners would refuse later: InputError naming
// the first row that holds one (rows counted from 0 in the file).
void check_finite(const Experience& chunk, int64_t first_row, const std::string& path) {
  const size_t rows = chunk.size();
  auto check = [&](const std::vector<float>& values, const char* column) {
    if (rows == 0 || values.empty()) return;
    const size_t width = values.size() / rows;
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw InputError(path + ": row " + std::to_string(first_row + static_cast<int64_t>(i / width)) + " of " +
                         column + " holds " + (std::isnan(values[i]) ? "nan" : "inf") +
                         "; relabel copies only finite data");
  };
  check(chunk.observations, "observations");
  check(chunk.next_observations, "next_observations");
  check(chunk.continuous_actions, "actions");
  check(chunk.rewards, "rewards");
}

}  // namespace

int64_t relabel_file(const std::string& in, const std::string& out, RewardLabel label, uint64_t seed, bool force,
                     TerminalLabel terminals) {
  std::error_code same_error;
  if (in == out || std::filesystem::equivalent(in, out, same_error))
    throw InputError(out + ": the output would overwrite the input; choose another name");
  const ExperienceReader reader(in);
  if (reader.rows() == 0) throw FileError(in + ": the file holds no transitions");
  constexpr int64_t kChunkRows = 65536;
  Experience chunk = reader.read(0, std::min(reader.rows(), kChunkRows));
  std::vector<std::string> info_names;
  for (const auto& [name, column] : chunk.infos) info_names.push_back(name);
  std::map<std::string, std::string> metadata = reader.metadata();
  metadata["reward_relabel"] = describe_reward_label(label, seed);
  metadata["relabeled_from"] = in;
  if (label == RewardLabel::kRandom) {
    metadata["reward_relabel_low"] = std::to_string(kRandomRewardLow);
    metadata["reward_relabel_high"] = std::to_string(kRandomRewardHigh);
  }
  if (terminals == TerminalLabel::kTimeout) {
    int64_t turned = 0;
    for (uint8_t t : reader.terminals()) turned += t != 0;
    metadata["terminals_relabel"] =
        "timeout: every terminal became a timeout (the no-early-termination control); no learner sees an episode "
        "end early";
    metadata["terminals_turned_to_timeouts"] = std::to_string(turned);
  }
  ExperienceWriter writer(out, reader.observation_spec(), reader.action_spec(), reader.has_next_observations(),
                          info_names, metadata, force);
  Progress progress("relabel");
  for (int64_t begin = 0; begin < reader.rows(); begin += kChunkRows) {
    if (begin > 0) chunk = reader.read(begin, std::min(kChunkRows, reader.rows() - begin));
    check_finite(chunk, begin, in);
    relabel_rewards(label, seed, begin, chunk.rewards);
    relabel_terminals(terminals, chunk.terminals, chunk.timeouts);
    writer.append(chunk);
    progress.update(begin + static_cast<int64_t>(chunk.size()), reader.rows(), "");
  }
  writer.close();
  progress.finish(reader.rows(), reader.rows(), "");
  return reader.rows();
}

}  // namespace shardlab
