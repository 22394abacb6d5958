// Writes the fuzzers' seed corpus: `fuzz_seed_corpus OUT_DIR` fills OUT_DIR/<target>/ with valid
// inputs (the shipped specs, small experience files, a small activation log, checkpoints of tiny
// networks) and OUT_DIR/spec.dict with every spec key, so mutations start from files shardlab
// accepts. CTest runs it as the fixture every fuzz test requires.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "agents/checkpoint.h"
#include "analysis/activation_log.h"
#include "analysis/maze_policy.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/spec.h"
#include "experiments/schema.h"

namespace fs = std::filesystem;
using namespace shardlab;

namespace {

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw FileError(path.string() + ": cannot write");
}

// `rows` transitions of a two-episode stream with every optional column.
Experience small_experience(bool discrete, int64_t rows) {
  Experience e;
  e.observation_spec.shape = {2, 3};
  e.observation_spec.low = -1;
  e.observation_spec.high = 1;
  e.action_spec.discrete = discrete;
  if (discrete)
    e.action_spec.num_actions = 4;
  else
    e.action_spec.dim = 2;
  for (int64_t i = 0; i < rows; ++i) {
    for (int j = 0; j < 6; ++j) {
      e.observations.push_back(0.1f * float(i) - 0.05f * float(j));
      e.next_observations.push_back(0.1f * float(i + 1) - 0.05f * float(j));
    }
    if (discrete)
      e.discrete_actions.push_back(i % 4);
    else
      e.continuous_actions.insert(e.continuous_actions.end(), {0.5f, -0.25f * float(i % 3)});
    e.rewards.push_back(i % 3 == 2 ? 1.0f : 0.0f);
    e.terminals.push_back(i == rows / 2);
    e.timeouts.push_back(i == rows - 2);
    e.infos["level_seed"].push_back(i / 3);
  }
  return e;
}

void write_experience(const fs::path& path, const Experience& e, bool with_next) {
  Experience x = e;
  if (!with_next) x.next_observations.clear();
  std::vector<std::string> infos;
  for (const auto& [name, values] : x.infos) infos.push_back(name);
  ExperienceWriter writer(path.string(), x.observation_spec, x.action_spec, with_next, infos,
                          {{"policy", "random"}, {"seed", "0"}}, true);
  writer.append(x);
  writer.close();
}

// An untrained policy of a tiny network: the loader's work does not depend on training.
std::string tiny_checkpoint(const fs::path& path, const std::vector<std::string>& overrides) {
  const Spec spec = Spec::load(shardlab_schema(), "", overrides);
  ObservationSpec obs;
  obs.shape = {3, 15, 15};  // env.distribution=easy, grid observations
  ActionSpec act;
  act.num_actions = 15;
  at::Generator init = at::detail::createCPUGenerator(3);
  ActorCritic net(NetworkConfig::from_spec(spec), obs, act, init);
  save_policy(path.string(), *net, spec);
  return path.string();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seed_corpus OUT_DIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    // Fresh folders: a fuzzer given a seed folder as its first corpus would have added to it.
    for (const char* target : {"spec", "experience_file", "activation_log", "checkpoint"}) {
      fs::remove_all(out / target);
      fs::create_directories(out / target);
    }

    // Specs: the shipped ones, the resolved defaults, and one with `--set` overrides.
    const SpecSchema& schema = shardlab_schema();
    for (const auto& entry : fs::directory_iterator(fs::path(SHARDLAB_SOURCE_DIR) / "experiments"))
      if (entry.path().extension() == ".ini")
        fs::copy_file(entry.path(), out / "spec" / entry.path().filename(), fs::copy_options::overwrite_existing);
    write_text(out / "spec" / "defaults.ini", Spec(schema).to_ini());
    write_text(out / "spec" / "overrides.ini",
               std::string("[env]\nplacement = top_right_region:5\n[train]\nlearning_rate = 5e-4\n") + '\0' +
                   "run.seed=3" + '\0' + "agent.channels=4,8,8");
    // The dictionary: every key, as a dotted name and as an INI section and key.
    std::set<std::string> words = {"[", "]", "=", "true", "false", "1e-5", "-0", "0x10"};
    for (const auto& [name, key] : schema.keys()) {
      words.insert(name);
      const size_t dot = name.find('.');
      words.insert("[" + name.substr(0, dot) + "]");
      words.insert(name.substr(dot + 1) + " = ");
      for (const std::string& choice : key.choices) words.insert(choice);
    }
    std::string dict;
    for (const std::string& w : words) {
      dict += '"';
      for (const char c : w) dict += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
      dict += "\"\n";
    }
    write_text(out / "spec.dict", dict);

    // Experience files: discrete and continuous actions, with and without next_observations.
    write_experience(out / "experience_file" / "discrete.h5", small_experience(true, 7), true);
    write_experience(out / "experience_file" / "continuous.h5", small_experience(false, 5), false);
    write_experience(out / "experience_file" / "empty.h5", small_experience(true, 0), false);

    // Checkpoints: a tiny IMPALA maze policy and a tiny MLP one.
    const std::string impala =
        tiny_checkpoint(out / "checkpoint" / "impala.pt",
                        {"agent.channels=2,2,2", "agent.hidden=8", "env.distribution=easy", "run.threads=1"});
    tiny_checkpoint(out / "checkpoint" / "mlp.pt",
                    {"agent.torso=mlp", "agent.hidden=4", "env.distribution=easy", "run.threads=1"});

    // An activation log of that policy over three mazes, one spatial and one dense layer.
    const analysis::MazePolicy policy = analysis::MazePolicy::load(impala, schema, {"env.placement=uniform"});
    analysis::RecordOptions options;
    options.seed_begin = 0;
    options.seed_end = 3;
    options.layers = {"embedder.block3.res2.resadd_out", "embedder.fc_out"};
    options.force = true;
    analysis::record_activations(policy, options, (out / "activation_log" / "log.h5").string(), "fuzz-seed");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seed_corpus: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
