// shardlab: the command line. Every error is one line on stderr and a non-zero exit:
// 2 for bad input (spec, flag, file), 1 for anything else.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "analysis/study.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/text.h"

namespace {

constexpr const char* kUsage = R"(usage: shardlab COMMAND [ARGS]

commands:
  demo                    the main job: train the maze agent of experiments/ppo_maze_demo.ini (two ranks;
                          `reproduce --list`: its wall time), evaluate it against a random policy, look inside, one report
  maze show               print Procgen maze layouts (and draw them): maze show --seed S | --seeds A:B
  maze frames             the observations of one level along a list of actions, as PNG files
  train SPEC              train a policy from an experiment spec (PPO or REINFORCE) into runs/<name>/
  eval RUN|CHECKPOINT     evaluate a trained policy (JSON: return, length, cheese and corner rates)
  eval --env E --policy P evaluate the random policy or the lunar lander's heuristic pilot (same JSON)
  collect                 run a policy in an environment and write D4RL-layout experience (HDF5)
  analyze STUDY RUN       the maze studies (`analyze --help` says what each reads and writes):
{studies}  render --env E --out D  draw episodes of any environment as PNG frames in D, or as FILE.gif
  plot RUN [RUN ...]      training curves of metrics.csv as SVG (several runs: their mean and min-max)
  report DIR              one self-contained HTML page of a run, demo, sweep or ablation folder
  import procgen-tools F  a procgen-tools maze network (F.pth, torch.save) as a run folder: --out RUN_DIR
  offline SPEC            train an offline learner (bc, iql, atac) on a dataset, rewards true or relabeled
  relabel IN OUT          copy a dataset with zero, random or negative rewards, or without early terminations
  dataset make            random / medium / medium-replay / expert / medium-expert data of a task
  ablate SPEC             the survival-instinct grid: datasets, every cell, the table and a chart, here
                          or as SLURM job arrays (--emit slurm)
  sweep SPEC --seeds A:B  train and evaluate seeds x a --grid of spec values, each cell a process here
                          or a SLURM job array (--emit slurm); `sweep summarize DIR`: mean and 95% interval
  reproduce NAME          a published result from its recipe (experiments/recipes/): trains, measures,
                          writes its numbers and page; `reproduce --list` names them all
  grid status DIR         a sweep's or ablation's finished, unfinished and unstarted cells
  inspect FILE.h5         list what an HDF5 file holds (experience statistics for experience files)
  spec keys               every spec key with its type, default and help
  spec show [SPEC]        the fully resolved spec (with --set overrides)
  version                 print the version

`shardlab COMMAND --help` shows a command's flags. Seed ranges A:B mean A, A+1, ..., B-1.
)";

// The usage, with every study of the registry (analysis/study.h) listed.
std::string usage() {
  std::string list, line = "                         ";
  for (const auto& study : shardlab::analysis::study_commands()) {
    if (line.size() + study.name.size() + 2 > 100) {
      list += line + "\n";
      line = "                         ";
    }
    line += " " + study.name + ",";
  }
  list += line.substr(0, line.size() - 1) + "\n";
  std::string text = kUsage;
  text.replace(text.find("{studies}"), 9, list);
  return text;
}

// The one error line: at most one line, long messages cut in the middle.
int fail(const std::string& message, int code) {
  std::string line = shardlab::first_line(message);
  constexpr size_t kLongest = 2000;
  if (line.size() > kLongest)
    line = line.substr(0, kLongest / 2) + " [... " + std::to_string(line.size() - kLongest) + " characters ...] " +
           line.substr(line.size() - kLongest / 2);
  std::cerr << "shardlab: error: " << line << '\n';
  if (shardlab::hdf5_objects_left_open()) {  // HDF5's exit-time clean-up would crash on them
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace shardlab;
  AtomicFile::remove_temporaries_on_signals();  // Ctrl-C leaves no FILE.tmp.PID behind
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {  // a usage error: the usage on stderr
    std::cerr << usage();
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << usage();
    return 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
      {"maze", cli::cmd_maze},           {"collect", cli::cmd_collect}, {"inspect", cli::cmd_inspect},
      {"spec", cli::cmd_spec},           {"demo", cli::cmd_demo},       {"train", cli::cmd_train},
      {"eval", cli::cmd_eval},           {"analyze", cli::cmd_analyze}, {"render", cli::cmd_render},
      {"offline", cli::cmd_offline},     {"relabel", cli::cmd_relabel}, {"dataset", cli::cmd_dataset},
      {"ablate", cli::cmd_ablate},       {"sweep", cli::cmd_sweep},     {"plot", cli::cmd_plot},
      {"report", cli::cmd_report},       {"import", cli::cmd_import},   {"grid", cli::cmd_grid},
      {"reproduce", cli::cmd_reproduce},
  };
  try {
    if (command == "version" || command == "--version") {
      std::cout << cli::version_string() << '\n';
      return 0;
    }
    const auto it = commands.find(command);
    if (it == commands.end()) throw InputError("unknown command '" + command + "' (`shardlab --help` lists them)");
    return it->second(args);
  } catch (const InputError& e) {
    return fail(e.what(), 2);
  } catch (const FileError& e) {
    return fail(e.what(), 2);
  } catch (const Error& e) {  // StorageError (a full disk), a lost rank, a failed library call
    return fail(e.what(), 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (a spec's sizes, env.num_envs or run.threads too large for this machine?)", 1);
  } catch (const std::exception& e) {  // a library's own error (libtorch's carry a backtrace)
    return fail(first_line(e.what()), 1);
  }
}
