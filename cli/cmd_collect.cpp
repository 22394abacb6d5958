// `shardlab collect`: run a policy in the spec's vector environment and write every
// transition, episodes back to back, into a D4RL-layout HDF5 file.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "agents/evaluate.h"
#include "agents/scripted_policy.h"
#include "cli/cli.h"
#include "core/episode_assembler.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/rng.h"
#include "envs/registry.h"
#include "envs/vector_env.h"

namespace shardlab::cli {
namespace {

// The policy's RNG stream, apart from the environments' streams 0 .. num_envs-1.
constexpr uint64_t kPolicyStream = 1ULL << 40;

// Running episode statistics for the progress line and the summary.
struct EpisodeTally {
  int64_t episodes = 0;
  double return_sum = 0.0;
  std::map<std::string, double> rates;  // by rate name: cheese_rate, landed_rate, ...
  void add(const EpisodeStats& s) {
    ++episodes;
    return_sum += s.episode_return;
    for (const auto& [metric, value] : s.metrics) {
      const std::string name = rate_name(metric);
      if (!name.empty()) rates[name] += value;
    }
  }
  std::string line() const {
    std::ostringstream out;
    out.precision(3);
    out << "episodes " << episodes;
    if (episodes) {
      out << " mean_return " << return_sum / episodes;
      for (const auto& [name, k] : rates) out << ' ' << name << ' ' << k / episodes;
    }
    return out.str();
  }
};

}  // namespace

void collect_experience(const Spec& spec, const std::string& policy, int64_t steps, const std::string& out_path,
                        bool force, bool next_observations) {
  if (steps < 1) throw InputError("--steps " + std::to_string(steps) + ": expected at least 1");
  VectorEnv venv = make_vector_env(spec);
  const int n = venv.num_envs();
  const ObservationSpec& obs_spec = venv.observation_spec();
  const ActionSpec& act_spec = venv.action_spec();
  const int64_t obs_size = obs_spec.size();
  ScriptedPolicy behaviour(policy, spec.get_string("env.name"), act_spec,
                           mix_seed(static_cast<uint64_t>(spec.get_int("run.seed")), kPolicyStream));

  std::map<std::string, std::string> metadata = {
      {"spec", spec.to_ini()},         {"env_name", spec.get_string("env.name")},
      {"seed", std::to_string(spec.get_int("run.seed"))}, {"policy", policy},
      {"shardlab_version", version_string()},
  };
  ExperienceWriter writer(out_path, obs_spec, act_spec, next_observations, venv.info_names(), metadata, force);

  EpisodeAssembler assembler(n, obs_spec, act_spec, venv.info_names(), next_observations);
  const size_t k = venv.info_names().size();
  std::vector<float> obs_before(venv.observations(), venv.observations() + n * obs_size);
  std::vector<int64_t> infos_before(n * k);
  std::vector<int64_t> discrete(act_spec.discrete ? n : 0);
  std::vector<float> continuous(act_spec.discrete ? 0 : n * act_spec.dim);
  EpisodeTally tally;
  Progress progress("collect");
  int64_t recorded = 0;
  while (recorded < steps) {
    std::copy(venv.infos(), venv.infos() + n * k, infos_before.begin());
    if (act_spec.discrete) {
      behaviour.act(venv.observations(), obs_size, n, discrete.data());
      venv.step(discrete.data());
    } else {
      behaviour.act(venv.observations(), obs_size, n, continuous.data());
      venv.step(continuous.data());
    }
    for (int i = 0; i < n && recorded < steps; ++i, ++recorded) {
      const float* next = venv.done(i) ? venv.final_observations() + i * obs_size : venv.observations() + i * obs_size;
      assembler.add(i, &obs_before[i * obs_size], act_spec.discrete ? &discrete[i] : nullptr,
                    act_spec.discrete ? nullptr : &continuous[i * act_spec.dim], venv.rewards()[i],
                    venv.terminated()[i], venv.truncated()[i], k ? &infos_before[i * k] : nullptr, next);
    }
    for (const auto& f : venv.finished()) tally.add(f.stats);
    std::copy(venv.observations(), venv.observations() + n * obs_size, obs_before.begin());
    if (assembler.finished().size() >= 4096) writer.append(assembler.take_finished());
    progress.update(recorded, steps, tally.line());
  }
  assembler.cut_unfinished();
  writer.append(assembler.take_finished());
  writer.close();
  write_text_file(out_path + ".spec.ini", spec.to_ini());
  progress.finish(recorded, steps, tally.line());
  std::cout << "wrote " << recorded << " transitions to " << out_path << " (" << tally.line() << "; spec in "
            << out_path << ".spec.ini)\n";
}

int cmd_collect(const std::vector<std::string>& args) {
  po::options_description flags("shardlab collect [SPEC] --steps N --out FILE.h5 [flags]");
  flags.add_options()("help,h", "show this help")("policy", po::value<std::string>()->default_value("random"),
                                                  "behaviour policy: random, or heuristic (lunar landers)")(
      "steps", po::value<int64_t>(), "transitions to write (required)")("out", po::value<std::string>(),
                                                                        "output HDF5 file (required)")(
      "force", "overwrite an existing output file")("next-observations", "also store next_observations");
  po::positional_options_description positional;
  add_spec_flags(flags, positional);
  const auto vm = parse_flags("collect", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("steps")) throw InputError("shardlab collect: --steps N is required");
  if (!vm.count("out")) throw InputError("shardlab collect: --out FILE.h5 is required");
  collect_experience(load_spec(vm), vm["policy"].as<std::string>(), vm["steps"].as<int64_t>(),
                     vm["out"].as<std::string>(), vm.count("force") > 0, vm.count("next-observations") > 0);
  return 0;
}

}  // namespace shardlab::cli
