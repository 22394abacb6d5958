// Wrong rewards (Li et al. 2023, "Survival Instinct in Offline RL"; ../shared/reference/offline.md):
// a dataset's reward labels replaced by zero, random or negated ones, at load time
// (offline.reward) or as a copy of the file (`shardlab relabel`). Terminals and timeouts are never
// changed: the data's episode structure is what the survival instinct rests on.
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

// `shardlab relabel`: writes a copy of the experience file `in` to `out` with relabeled rewards,
// copying the other columns in chunks of rows (HDF5 cannot share a dataset between two files
// without external links, which would break when `in` moves). The copy's metadata keeps the
// original's and adds reward_relabel, relabeled_from and, for random, the interval. InputError
// if `out` exists and !force, or is `in`; the final name appears only once the copy is complete.
// Returns the rows copied.
int64_t relabel_file(const std::string& in, const std::string& out, RewardLabel label, uint64_t seed, bool force);

}  // namespace shardlab
