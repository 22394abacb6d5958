#include "agents/checkpoint.h"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "agents/train_config.h"
#include "core/error.h"
#include "core/spec.h"
#include "envs/registry.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFormat = "shardlab-checkpoint-1";

at::Tensor doubles(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }
std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// The first line of a libtorch error, for a one-line message.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

void save_checkpoint(const std::string& path, ActorCriticImpl& net, torch::optim::Adam& optimizer,
                     const at::Generator& gen, const CheckpointState& state) {
  torch::serialize::OutputArchive archive, model, optim;
  net.save(model);
  optimizer.save(optim);
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("model", model);
  archive.write("optimizer", optim);
  archive.write("generator_state", gen.get_state());
  archive.write("update", torch::tensor(state.update, torch::kInt64));
  archive.write("global_step", torch::tensor(state.global_step, torch::kInt64));
  archive.write("spec", c10::IValue(state.spec_ini));
  archive.write("obs_mean", doubles(state.observation_stats.mean));
  archive.write("obs_var", doubles(state.observation_stats.var));
  archive.write("obs_count", torch::tensor(state.observation_stats.count, torch::kFloat64));
  archive.write("ret_var", doubles(state.return_stats.var));
  archive.write("ret_mean", doubles(state.return_stats.mean));
  archive.write("ret_count", torch::tensor(state.return_stats.count, torch::kFloat64));
  const std::string tmp = path + ".tmp.pt";
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    throw FileError(path + ": cannot write checkpoint: " + first_line(e.what_without_backtrace()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw FileError(path + ": cannot write checkpoint");
  }
}

void load_checkpoint(const std::string& path, ActorCriticImpl& net, torch::optim::Adam* optimizer,
                     at::Generator* gen, CheckpointState& state) {
  if (!fs::is_regular_file(path)) throw FileError(path + ": no such checkpoint file");
  try {
    torch::serialize::InputArchive archive, model;
    archive.load_from(path);
    c10::IValue format, spec;
    if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
      throw FileError(path + ": not a shardlab checkpoint (no '" + std::string(kFormat) + "' marker)");
    archive.read("model", model);
    net.load(model);
    if (optimizer) {
      torch::serialize::InputArchive optim;
      archive.read("optimizer", optim);
      optimizer->load(optim);
    }
    // A fresh tensor per key: InputArchive::read into a defined tensor rebinds it in place.
    auto tensor = [&archive](const char* key) {
      at::Tensor t;
      archive.read(key, t);
      return t;
    };
    if (gen) gen->set_state(tensor("generator_state"));
    state.update = tensor("update").item<int64_t>();
    state.global_step = tensor("global_step").item<int64_t>();
    archive.read("spec", spec);
    state.spec_ini = spec.toStringRef();
    state.observation_stats.mean = to_vector(tensor("obs_mean"));
    state.observation_stats.var = to_vector(tensor("obs_var"));
    state.observation_stats.count = tensor("obs_count").item<double>();
    state.return_stats.mean = to_vector(tensor("ret_mean"));
    state.return_stats.var = to_vector(tensor("ret_var"));
    state.return_stats.count = tensor("ret_count").item<double>();
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a readable shardlab checkpoint: " + first_line(e.what_without_backtrace()));
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const FileError*>(&e)) throw;
    throw FileError(path + ": not a readable shardlab checkpoint: " + first_line(e.what()));
  }
}

at::Tensor LoadedPolicy::prepare(const float* obs, int64_t rows) const {
  const ObservationSpec& os = net->observation_spec();
  std::vector<int64_t> sizes = {rows};
  sizes.insert(sizes.end(), os.shape.begin(), os.shape.end());
  at::Tensor x = torch::from_blob(const_cast<float*>(obs), sizes, torch::kFloat32).clone();
  if (state.normalize_observations) {
    const at::Tensor mean = doubles(state.observation_stats.mean).to(torch::kFloat32).reshape(os.shape);
    const at::Tensor var = doubles(state.observation_stats.var).to(torch::kFloat32).reshape(os.shape);
    x = ((x - mean) / (var + 1e-8).sqrt()).clamp(-state.observation_clip, state.observation_clip);
  }
  return x;
}

LoadedPolicy load_policy(const std::string& path, const SpecSchema& schema) {
  // Read the spec first, then build the network it describes and load the weights into it.
  std::string spec_text;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue format, spec;
    if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
      throw FileError(path + ": not a shardlab checkpoint (no '" + std::string(kFormat) + "' marker)");
    archive.read("spec", spec);
    spec_text = spec.toStringRef();
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a readable shardlab checkpoint: " + first_line(e.what_without_backtrace()));
  }
  Spec spec(schema);
  try {
    spec = Spec::from_text(schema, spec_text, path + " (spec)", {});
  } catch (const InputError& e) {
    throw FileError(path + ": its spec does not load in this version: " + e.what());
  }
  auto env = make_env(spec, 0);
  LoadedPolicy policy;
  policy.path = path;
  policy.net = ActorCritic(NetworkConfig::from_spec(spec), env->observation_spec(), env->action_spec());
  load_checkpoint(path, *policy.net, nullptr, nullptr, policy.state);
  const TrainConfig config = TrainConfig::from_spec(spec);
  policy.state.normalize_observations = config.normalize_observations;
  policy.state.observation_clip = config.observation_clip;
  policy.net->eval();
  return policy;
}

std::string resolve_checkpoint(const std::string& run_dir_or_file) {
  if (fs::is_regular_file(run_dir_or_file)) return run_dir_or_file;
  const fs::path dir = fs::path(run_dir_or_file) / "checkpoints";
  if (!fs::is_directory(dir))
    throw FileError(run_dir_or_file + ": neither a checkpoint file nor a run folder with checkpoints/");
  std::string newest;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("update_", 0) == 0 && entry.path().extension() == ".pt" && name > fs::path(newest).filename().string())
      newest = entry.path().string();
  }
  if (newest.empty()) throw FileError(dir.string() + ": no checkpoint (update_*.pt) yet");
  return newest;
}

}  // namespace shardlab
