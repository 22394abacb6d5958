// Shared pieces of the command line: flag parsing, the spec schema, progress lines.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agents/training_run.h"
#include "core/flags.h"
#include "core/progress.h"
#include "core/spec.h"
#include "core/text.h"
#include "experiments/grid.h"
#include "experiments/schema.h"

namespace shardlab::cli {

namespace po = boost::program_options;

// parse_flags and flag_at_least: core/flags.h.

// Adds the flags every spec-driven command takes: SPEC (positional), --set, --env.
void add_spec_flags(po::options_description& flags, po::positional_options_description& positional);
// --set-from KEY=FILE (repeatable): KEY's value is FILE's text, one line, e.g. a value an earlier
// cell of a grid chose and wrote (ablate's per-dataset ATAC beta), so a cell's command line stays
// fixed while its value is decided later. Applied after --set. For commands that add it.
void add_set_from_flag(po::options_description& flags);
// Resolves the spec from those flags.
Spec load_spec(const po::variables_map& vm);

// The --out and --resume flags of a training command, and the run they name: DIR/<run.name, or
// the spec file's name, or `fallback`>.
void add_run_flags(po::options_description& flags);
TrainOptions run_options(const po::variables_map& vm, const Spec& spec, const std::string& fallback);

// The running shardlab executable (/proc/self/exe), for commands that start more of it.
std::string self_executable();

// The --emit slurm flags of `sweep` and `ablate` (cli/cmd_grid.cpp), the options they give (none
// without --emit slurm; InputError for a bad one, before anything is written; `jobs` throttles
// the arrays), and the emitted scripts written and explained on stdout.
void add_slurm_flags(po::options_description& flags);
std::optional<SlurmOptions> slurm_options(const po::variables_map& vm, int64_t jobs, const std::string& dir);
void emit_and_explain(const Grid& grid, const SlurmOptions& options, const std::string& summarize);

// The data-parallel flags of a training command (cli/launch.cpp): --nproc, --world-size, --rank,
// --master, --timeout.
void add_parallel_flags(po::options_description& flags);
// With --nproc N > 1: checks the request once (`check(N)`, the run folder), starts N ranks of
// `shardlab COMMAND ARGS` (without --nproc) on this machine, waits for them and returns the exit
// status. Otherwise joins the process group that the flags or a launcher's environment
// (torchrun's or SLURM's variables) describe into options.ranks (a world of one when none is set)
// and returns nothing: the caller trains.
std::optional<int> launch_or_join(const std::string& command, const std::vector<std::string>& args,
                                  const po::variables_map& vm, const Spec& spec, TrainOptions& options,
                                  const std::function<void(int64_t)>& check);

// The version string recorded in every output: "shardlab 0.1.0".
std::string version_string();

// The subcommands.
int cmd_maze(const std::vector<std::string>& args);
int cmd_collect(const std::vector<std::string>& args);
int cmd_inspect(const std::vector<std::string>& args);
int cmd_spec(const std::vector<std::string>& args);
int cmd_demo(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_analyze(const std::vector<std::string>& args);
int cmd_render(const std::vector<std::string>& args);
int cmd_offline(const std::vector<std::string>& args);
int cmd_relabel(const std::vector<std::string>& args);
int cmd_dataset(const std::vector<std::string>& args);
int cmd_ablate(const std::vector<std::string>& args);
int cmd_sweep(const std::vector<std::string>& args);
int cmd_grid(const std::vector<std::string>& args);
int cmd_plot(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_import(const std::vector<std::string>& args);
int cmd_reproduce(const std::vector<std::string>& args);

}  // namespace shardlab::cli

namespace shardlab::cli {
// Runs `policy` in the spec's vector environment for `steps` transitions and writes them to
// `out_path` (D4RL layout), plus the resolved spec as `out_path`.spec.ini.
void collect_scripted(const Spec& spec, const std::string& policy, int64_t steps, const std::string& out_path,
                      bool force, bool next_observations);
}  // namespace shardlab::cli
