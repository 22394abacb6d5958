// A maze study as `shardlab analyze NAME` runs it. Each study is one file, analysis/study_NAME.cpp
// (its flags, its run, the files it writes), and one line of the registry (analysis/studies.cpp):
// `shardlab analyze --help` and `shardlab --help` list the registry, so no study can be left out of
// them. What the studies share is here: the flags every study takes (RUN, --set, --force), the
// policy loaded once, the seed range, the levels it leaves out and why, the output folder.
#pragma once

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/report_json.h"
#include "core/error.h"

namespace shardlab {
class SpecSchema;
}

namespace shardlab::analysis {

namespace po = boost::program_options;

// ---- the registry --------------------------------------------------------------------------

struct StudyCommand {
  std::string name;     // `shardlab analyze NAME`
  std::string summary;  // one line, for the lists of studies
  std::string reads;    // what it studies
  std::string writes;   // the files it writes
  int (*run)(const std::vector<std::string>& args, const SpecSchema& schema) = nullptr;
};

// Every study, in the order the lists show them.
const std::vector<StudyCommand>& study_commands();
// The study called `name`; InputError naming `analyze --help` for an unknown one.
const StudyCommand& find_study(const std::string& name);
// `shardlab analyze --help`: the usage, every study with what it reads and writes.
std::string analyze_usage();

// ---- what the studies share ----------------------------------------------------------------

constexpr const char* kDefaultLayer = "embedder.block2.res1.resadd_out";
constexpr const char* kProtocolHelp =
    "reference: the published protocol as procgen-tools runs it (default); ours: our earlier variant";

// The flags every study takes: RUN (positional), --set, --force, --help.
struct StudyFlags {
  po::options_description flags;
  po::positional_options_description positional;
  explicit StudyFlags(const std::string& usage);
};

struct Study {
  std::optional<MazePolicy> policy;
  po::variables_map vm;
  std::string out_dir;
  // The spec overrides the policy was loaded with (env.placement=uniform, then --set): a study
  // that loads a second network (pushes' untrained null) loads it with the same ones.
  std::vector<std::string> overrides;

  const MazePolicy& p() const { return *policy; }
  // The study's output files, named before it runs: kept unless --force (core/atomic_file.h).
  void claim(const std::vector<std::string>& names) const;
  std::string str(const std::string& k) const { return vm[k].as<std::string>(); }
  bool has(const std::string& k) const { return vm.count(k) > 0; }
  // A coefficient or activation value: finite and at most `limit` in size, so that the edited
  // activations and the policy's outputs stay finite (1e308 would make every result NaN).
  static constexpr double kLargestEdit = 1e4;
  double bounded(const std::string& k, double limit = kLargestEdit) const {
    return bounded_number(vm[k].as<double>(), "--" + k, limit);
  }
  static double bounded_number(double v, const std::string& flag, double limit);
};

// Parses the flags and loads the policy (with env.placement=uniform unless --set says otherwise,
// and --set limited to the keys a trained policy's command uses); with `needs_out_dir`, makes
// --out (default RUN/analysis). Nothing after printing --help.
std::optional<Study> open_study(const SpecSchema& schema, const std::string& name, const std::vector<std::string>& args,
                                StudyFlags& f, bool needs_out_dir);

// --seeds A:B, required, within Procgen's level seeds.
std::pair<int64_t, int64_t> seeds_of(const Study& s);
// The levels of --seeds the policy can be studied on; `counts` (may be null) receives how many
// seeds were asked for, how many were outside the run's maze sizes and (until the study sets it)
// used = every level returned. A study that leaves out more adds why to counts->other_left_out.
std::vector<MazeLayout> levels_of(const Study& s, MazeCounts* counts = nullptr);
// How many of `levels` have no decision square (for the studies that need one).
int64_t without_decision_square(const std::vector<MazeLayout>& levels);

Protocol protocol_of(const Study& s);
// Flags of the protocol not in use, when given, are refused with one line naming the flag and
// its protocol: silently ignoring them would report numbers the user did not ask for. A flag left
// at its default value was not given.
void refuse_flags_of_other_protocol(const Study& s, Protocol in_use, const std::vector<std::string>& other_flags);

// --layer (default kDefaultLayer), checked against the network.
std::string layer_of(const Study& s);
// --channels C1,C2,... (a trailing comma is fine), or top:K:FILE: the first K channels of a
// channels.csv that `analyze channels` wrote (choose them on other mazes than the study's own).
std::vector<int64_t> channels_of(const std::string& text);
// A list of coefficients C1,C2,... given as the flag `flag` (e.g. "coeffs"), each bounded as
// Study::bounded; InputError naming the flag and the first item that is not a number.
std::vector<double> coefficients_of(const Study& s, const std::string& flag);
// Writes one of the study's files and says so on stderr.
void write_file(const std::string& path, const std::string& text);

}  // namespace shardlab::analysis
