// Wrong rewards (Li et al. 2023, "Survival Instinct in Offline RL"; ../shared/reference/offline.md):
// a dataset's reward labels replaced by zero, random or negated ones, at load time
// (offline.reward) or as a copy of the file (`shardlab relabel`). Episode ends change only when asked
// (`relabel --terminals timeout`, the paper's no-early-termination control): the data's episode
// structure is what the survival instinct rests on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardlab {

enum class RewardLabel { kTrue, kZero, kRandom, kNegative };

// "true", "zero", "random", "negative"; InputError naming `where` otherwise.
RewardLabel parse_reward_label(const std::string& name, const std::string& where);
const char* reward_label_name(RewardLabel label);
// What the label means, for a file's metadata: "random: U[0, 1) per transition, seed 3".
std::string describe_reward_label(RewardLabel label, uint64_t seed);

// The random label's interval.
constexpr double kRandomRewardLow = 0.0, kRandomRewardHigh = 1.0;

// Relabels rewards[0..n) of rows first_row.. of a file. A random reward depends only on (seed,
// row), so relabeling a file in chunks or all at once gives the same labels.
void relabel_rewards(RewardLabel label, uint64_t seed, int64_t first_row, std::vector<float>& rewards);

// What happens to the terminal flags of a copy: kept, or every terminal turned into a timeout (the
// no-early-termination control: the episode still ends at that row, but no learner sees a terminal,
// so every value bootstraps, as on data whose episodes only end by the time limit). Without stored
// next observations a timeout row has no known next observation and is left out of learning, as
// D4RL's q-learning view does (core/experience_file.h): the row that ended early is dropped, not
// bootstrapped across into the next episode.
enum class TerminalLabel { kKeep, kTimeout };

// "keep", "timeout"; InputError naming `where` otherwise.
TerminalLabel parse_terminal_label(const std::string& name, const std::string& where);

// Turns every terminal of rows [0, n) into a timeout (kTimeout); returns how many it turned.
int64_t relabel_terminals(TerminalLabel label, std::vector<uint8_t>& terminals, std::vector<uint8_t>& timeouts);

// `shardlab relabel`: writes a copy of the experience file `in` to `out` with relabeled rewards,
// copying the other columns in chunks of rows (HDF5 cannot share a dataset between two files
// without external links, which would break when `in` moves). The copy's metadata keeps the
// original's and adds reward_relabel, relabeled_from, for random the interval, and with
// TerminalLabel::kTimeout terminals_relabel and terminals_turned_to_timeouts (the count). InputError
// if `out` exists and !force, or is `in`; the final name appears only once the copy is complete.
// Returns the rows copied.
int64_t relabel_file(const std::string& in, const std::string& out, RewardLabel label, uint64_t seed, bool force,
                     TerminalLabel terminals = TerminalLabel::kKeep);

}  // namespace shardlab
