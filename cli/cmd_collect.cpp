// `shardlab collect`: run a policy in the spec's vector environment and write every
// transition, episodes back to back, into a D4RL-layout HDF5 file.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "agents/evaluate.h"
#include "agents/scripted_policy.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/folder_lock.h"
#include "core/rng.h"
#include "envs/collection.h"
#include "envs/registry.h"
#include "envs/vector_env.h"

namespace shardlab::cli {
namespace {

// The policy's RNG stream, apart from the environments' streams 0 .. num_envs-1.
constexpr uint64_t kPolicyStream = 1ULL << 40;

}  // namespace

void collect_scripted(const Spec& spec, const std::string& policy, int64_t steps, const std::string& out_path,
                      bool force, bool next_observations) {
  if (steps < 1) throw InputError("--steps " + std::to_string(steps) + ": expected at least 1");
  claim_outputs({out_path, out_path + ".spec.ini"}, force);
  VectorEnv venv = make_vector_env(spec);
  const ObservationSpec& obs_spec = venv.observation_spec();
  const ActionSpec& act_spec = venv.action_spec();
  const int64_t obs_size = obs_spec.size();
  ScriptedPolicy behaviour(policy, find_env(spec.get_string("env.name")), act_spec,
                           mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kPolicyStream));

  std::map<std::string, std::string> metadata = {
      {"spec", spec.to_ini()},
      {"env_name", spec.get_string("env.name")},
      {"seed", std::to_string(spec.get_int("run.seed"))},
      {"policy", policy},
      {"shardlab_version", version_string()},
  };
  ExperienceWriter writer(out_path, obs_spec, act_spec, next_observations, venv.info_names(), metadata, force);

  const EpisodeTally tally = collect_experience(venv, behaviour.behaviour(obs_size), steps, writer, next_observations,
                                                find_env(spec.get_string("env.name")).rates, "collect");
  // The pair goes into place together: the spec under a temporary name first, then both renamed
  // while holding the folder's flock, so two collects to one file cannot leave the .h5 of one
  // and the .spec.ini of the other.
  AtomicFile sidecar(out_path + ".spec.ini");
  sidecar.write(spec.to_ini());
  {
    const FolderFlock pair(std::filesystem::path(out_path).parent_path().string());
    writer.close();
    sidecar.commit(/*replace=*/force);
  }
  std::cout << "wrote " << steps << " transitions to " << out_path << " (" << tally.line() << "; spec in " << out_path
            << ".spec.ini)\n";
}

int cmd_collect(const std::vector<std::string>& args) {
  po::options_description flags("shardlab collect [SPEC] --steps N --out FILE.h5 [flags]");
  flags.add_options()("help,h", "show this help")("policy", po::value<std::string>()->default_value("random"),
                                                  "behaviour policy: random, or heuristic (lunar landers)")(
      "steps", po::value<int64_t>(), "transitions to write (required)")(
      "out", po::value<std::string>(), "output HDF5 file (required)")("force", "overwrite an existing output file")(
      "next-observations", "also store next_observations");
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("collect", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("steps")) throw InputError("shardlab collect: --steps N is required");
  if (!vm.count("out")) throw InputError("shardlab collect: --out FILE.h5 is required");
  collect_scripted(load_spec(vm), vm["policy"].as<std::string>(), flag_at_least(vm, "steps", 1),
                   vm["out"].as<std::string>(), vm.count("force") > 0, vm.count("next-observations") > 0);
  return 0;
}

}  // namespace shardlab::cli
