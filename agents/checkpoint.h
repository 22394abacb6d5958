// Checkpoints of named parts: any set of modules, optimizers, random generators and small
// state (counters, normaliser statistics, settings), plus the resolved spec, in one libtorch
// archive written through AtomicFile. A learner names its parts once and the same Checkpoint
// saves and restores them. The part "model" is always the acting policy, so `eval`, `render`
// and `analyze` load any learner's checkpoint the same way.
//
// On disk the archive follows a two-line header with its SHA-256 (agents/checkpoint.cpp), checked
// before libtorch reads it; a mismatch, or non-finite weights or statistics, is CorruptFile.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "agents/actor_critic.h"
#include "agents/normalization.h"

namespace torch::optim {
class Optimizer;
}
namespace torch::serialize {
class InputArchive;
}

namespace shardlab {

class Spec;
class SpecSchema;

class Checkpoint {
 public:
  // Each part is saved from and loaded into the object given here (it must outlive save/load).
  // An optional part missing from a file keeps its current value (older checkpoints).
  void add(const std::string& name, torch::nn::Module& module, bool optional = false);
  void add(const std::string& name, torch::optim::Optimizer& optimizer, bool optional = false);
  void add(const std::string& name, at::Generator& generator, bool optional = false);
  void add(const std::string& name, int64_t& value, bool optional = false);
  void add(const std::string& name, bool& value, bool optional = false);
  void add(const std::string& name, double& value, bool optional = false);
  void add(const std::string& name, std::vector<double>& values, bool optional = false);
  // Running statistics as "<name>_mean", "<name>_var", "<name>_count".
  void add(const std::string& name, RunningMeanStd& stats, bool optional = false);

  // Writes every part and the resolved spec. FileError if the file cannot be written.
  void save(const std::string& path, const std::string& spec_ini) const;
  // Restores every part; FileError (one line, naming the file and part) on anything unreadable or
  // a missing required part; CorruptFile (a FileError) on a hash mismatch or non-finite values.
  void load(const std::string& path) const;

  // The archive of every part without the file header: what rank 0 sends to the other ranks of a
  // data-parallel run (agents/collective.h), and load_bytes() restores; `origin` names it in errors.
  std::string to_bytes(const std::string& spec_ini) const;
  void load_bytes(const std::string& bytes, const std::string& origin) const;

  // The resolved spec stored in a checkpoint file.
  static std::string read_spec(const std::string& path);

 private:
  using Target = std::variant<torch::nn::Module*, torch::optim::Optimizer*, at::Generator*, int64_t*, bool*, double*,
                              std::vector<double>*>;
  struct Part {
    std::string name;
    Target target;
    bool optional;
  };
  std::vector<Part> parts_;
  void load_parts(torch::serialize::InputArchive& archive, const std::string& path) const;
};

// A trained policy ready to act: the "model" part rebuilt from the checkpoint's own spec, with
// the observation normalisation it was trained with.
struct LoadedPolicy {
  ActorCritic net{nullptr};
  bool normalize_observations = false;
  double observation_clip = 10.0;
  RunningMeanStd observation_stats{1};
  std::string spec_ini;
  std::string path;
  // Observations as the network expects them (normalised with the training statistics).
  at::Tensor prepare(const float* obs, int64_t rows) const;
};
// `schema` reads the checkpoint's spec (the caller's full schema of keys).
LoadedPolicy load_policy(const std::string& path, const SpecSchema& schema);
// The same from Checkpoint::to_bytes() of a run in progress (its `spec`): training's videos act
// with a copy of the policy, so recording one never touches the network being trained.
LoadedPolicy load_policy_bytes(const std::string& bytes, const Spec& spec, const std::string& origin);

// Writes a checkpoint holding just a policy (untrained, or trained elsewhere) and the spec it was
// built from: what tests and benchmarks need to run `eval` and `analyze` without training.
void save_policy(const std::string& path, ActorCriticImpl& net, const Spec& spec);

// libtorch's readers crash, rather than throw, on some damaged archives (found by fuzz_checkpoint):
// runs `read` once in a child process first, and throws CorruptFile(`crashed`) if the child died.
// Errors `read` throws are left for the caller's own read to report.
void survive_libtorch_crash(const std::function<void()>& read, const std::string& crashed);

}  // namespace shardlab
