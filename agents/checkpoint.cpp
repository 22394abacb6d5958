#include "agents/checkpoint.h"

#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "agents/run_dir.h"
#include "agents/train_config.h"
#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/isolated.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/registry.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

// Version 1 (the first format) held the PPO trainer's fixed parts under the same names that the
// trainer now registers, so it loads through the same code; version 2 adds the observation
// normalisation settings. Version 3 is the version-2 archive after a two-line text header,
//   shardlab-checkpoint-3
//   sha256 <64 hex digits> <archive bytes>
// checked by our own code before libtorch parses a byte: libtorch's loader crashes on some
// damaged archives (found by fuzz_checkpoint), so a damaged file must never reach it.
constexpr const char* kFormat = "shardlab-checkpoint-3";
constexpr const char* kFormatV2 = "shardlab-checkpoint-2";
constexpr const char* kFormatV1 = "shardlab-checkpoint-1";

at::Tensor doubles(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }
std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// Earlier checkpoints carry no hash: such a file is read once in a child process first.
void probe_unhashed_archive(const std::string& path) {
  survive_libtorch_crash(
      [&path] {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
      },
      path + ": libtorch crashed reading this checkpoint (the file is damaged)");
}

// Opens the archive of parts: version 3 after checking its header and hash, the older versions
// (zip archives, no hash) as they are.
void open_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  if (!fs::is_regular_file(path)) throw FileError(path + ": no such checkpoint file");
  const std::string bytes = read_text_file(path);
  const std::string magic = std::string(kFormat) + "\n";
  try {
    if (bytes.compare(0, magic.size(), magic) == 0) {
      const size_t end = bytes.find('\n', magic.size());
      char digest[65] = {0};
      unsigned long long size = 0;
      int used = 0;
      if (end == std::string::npos || end - magic.size() > 100 ||
          std::sscanf(bytes.c_str() + magic.size(), "sha256 %64[0-9a-f] %llu%n", digest, &size, &used) != 2 ||
          magic.size() + static_cast<size_t>(used) != end)
        throw CorruptFile(path + ": the checkpoint's header is damaged (the file is corrupted)");
      const size_t begin = end + 1;
      if (bytes.size() - begin != size)
        throw CorruptFile(path + ": the checkpoint holds " + std::to_string(bytes.size() - begin) +
                          " bytes of content, its header says " + std::to_string(size) + " (the file is corrupted)");
      if (sha256_hex(bytes.data() + begin, size) != digest)
        throw CorruptFile(path + ": the checkpoint's content does not match its SHA-256 (the file is corrupted)");
      archive.load_from(bytes.data() + begin, size);
      return;
    }
    if (bytes.compare(0, 2, "PK") != 0)
      throw FileError(path + ": not a shardlab checkpoint (no '" + std::string(kFormat) + "' header)");
    probe_unhashed_archive(path);
    archive.load_from(path);
    c10::IValue format;
    if (!archive.try_read("format", format) || !format.isString() ||
        (format.toStringRef() != kFormatV1 && format.toStringRef() != kFormatV2))
      throw FileError(path + ": not a shardlab checkpoint (no '" + std::string(kFormat) + "' header)");
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a readable shardlab checkpoint: " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {  // libtorch's unpickler also throws std::out_of_range
    throw FileError(path + ": not a readable shardlab checkpoint: " + first_line(e.what()));
  }
}

void require_finite(double value, const std::string& path, const std::string& part) {
  if (!std::isfinite(value)) throw CorruptFile(path + ": part '" + part + "' holds a non-finite value");
}

}  // namespace

void survive_libtorch_crash(const std::function<void()>& read, const std::string& crashed) {
  run_isolated(
      [&read] {
        try {
          read();
        } catch (...) {  // left for the caller's own read to report in its words
        }
        return std::string();
      },
      crashed);
}

void Checkpoint::add(const std::string& name, torch::nn::Module& m, bool optional) {
  parts_.push_back({name, &m, optional});
}
void Checkpoint::add(const std::string& name, torch::optim::Optimizer& o, bool optional) {
  parts_.push_back({name, &o, optional});
}
void Checkpoint::add(const std::string& name, at::Generator& g, bool optional) {
  parts_.push_back({name, &g, optional});
}
void Checkpoint::add(const std::string& name, int64_t& v, bool optional) { parts_.push_back({name, &v, optional}); }
void Checkpoint::add(const std::string& name, bool& v, bool optional) { parts_.push_back({name, &v, optional}); }
void Checkpoint::add(const std::string& name, double& v, bool optional) { parts_.push_back({name, &v, optional}); }
void Checkpoint::add(const std::string& name, std::vector<double>& v, bool optional) {
  parts_.push_back({name, &v, optional});
}
void Checkpoint::add(const std::string& name, RunningMeanStd& stats, bool optional) {
  add(name + "_mean", stats.mean, optional);
  add(name + "_var", stats.var, optional);
  add(name + "_count", stats.count, optional);
}

std::string Checkpoint::to_bytes(const std::string& spec_ini) const {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormatV2)));
  archive.write("spec", c10::IValue(spec_ini));
  for (const Part& part : parts_) {
    std::visit(
        [&](auto* target) {
          using T = std::remove_pointer_t<decltype(target)>;
          if constexpr (std::is_same_v<T, torch::nn::Module> || std::is_same_v<T, torch::optim::Optimizer>) {
            torch::serialize::OutputArchive sub;
            target->save(sub);
            archive.write(part.name, sub);
          } else if constexpr (std::is_same_v<T, at::Generator>) {
            archive.write(part.name, target->get_state());
          } else if constexpr (std::is_same_v<T, std::vector<double>>) {
            archive.write(part.name, doubles(*target));
          } else if constexpr (std::is_same_v<T, double>) {
            archive.write(part.name, torch::tensor(*target, torch::kFloat64));
          } else {
            archive.write(part.name, torch::tensor(static_cast<int64_t>(*target), torch::kInt64));
          }
        },
        part.target);
  }
  std::string content;
  try {
    archive.save_to([&content](const void* data, size_t size) {
      content.append(static_cast<const char*>(data), size);
      return size;
    });
  } catch (const c10::Error& e) {
    throw Error("cannot serialise the checkpoint: " + first_line(e.what_without_backtrace()));
  }
  return content;
}

void Checkpoint::save(const std::string& path, const std::string& spec_ini) const {
  std::string content;
  try {
    content = to_bytes(spec_ini);
  } catch (const Error& e) {
    throw FileError(path + ": " + e.what());
  }
  const std::string header = std::string(kFormat) + "\nsha256 " + sha256_hex(content.data(), content.size()) + " " +
                             std::to_string(content.size()) + "\n";
  write_file_atomically(path, header + content);
}

void Checkpoint::load(const std::string& path) const {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  load_parts(archive, path);
}

void Checkpoint::load_bytes(const std::string& bytes, const std::string& origin) const {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error& e) {
    throw FileError(origin + ": not a readable checkpoint: " + first_line(e.what_without_backtrace()));
  }
  load_parts(archive, origin);
}

void Checkpoint::load_parts(torch::serialize::InputArchive& archive, const std::string& path) const {
  for (const Part& part : parts_) {
    try {
      std::visit(
          [&](auto* target) {
            using T = std::remove_pointer_t<decltype(target)>;
            if constexpr (std::is_same_v<T, torch::nn::Module> || std::is_same_v<T, torch::optim::Optimizer>) {
              torch::serialize::InputArchive sub;
              if (!archive.try_read(part.name, sub)) {
                if (part.optional) return;
                throw FileError(path + ": the checkpoint has no part '" + part.name + "'");
              }
              target->load(sub);
              if constexpr (std::is_same_v<T, torch::nn::Module>) {
                for (const auto& p : target->named_parameters())
                  if (!torch::isfinite(p.value()).all().template item<bool>())
                    throw CorruptFile(path + ": part '" + part.name + "' holds non-finite weights (" + p.key() + ")");
              }
            } else {
              // A fresh tensor per part: InputArchive::read into a defined tensor rebinds it in place.
              at::Tensor t;
              if (!archive.try_read(part.name, t)) {
                if (part.optional) return;
                throw FileError(path + ": the checkpoint has no part '" + part.name + "'");
              }
              if constexpr (std::is_same_v<T, at::Generator>) {
                target->set_state(t);
              } else if constexpr (std::is_same_v<T, std::vector<double>>) {
                *target = to_vector(t);
                for (double x : *target) require_finite(x, path, part.name);
              } else if constexpr (std::is_same_v<T, double>) {
                *target = t.item<double>();
                require_finite(*target, path, part.name);
              } else {
                *target = static_cast<T>(t.item<int64_t>());
              }
            }
          },
          part.target);
    } catch (const Error&) {
      throw;
    } catch (const c10::Error& e) {
      throw FileError(path + ": part '" + part.name + "' does not load: " + first_line(e.what_without_backtrace()));
    } catch (const std::exception& e) {
      throw FileError(path + ": part '" + part.name + "' does not load: " + first_line(e.what()));
    }
  }
}

std::string Checkpoint::read_spec(const std::string& path) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  c10::IValue spec;
  if (!archive.try_read("spec", spec) || !spec.isString()) throw FileError(path + ": the checkpoint has no spec");
  return spec.toStringRef();
}

at::Tensor LoadedPolicy::prepare(const float* obs, int64_t rows) const {
  const ObservationSpec& os = net->observation_spec();
  std::vector<int64_t> sizes = {rows};
  sizes.insert(sizes.end(), os.shape.begin(), os.shape.end());
  at::Tensor x = torch::from_blob(const_cast<float*>(obs), sizes, torch::kFloat32).clone();
  if (normalize_observations) {
    const at::Tensor mean = doubles(observation_stats.mean).to(torch::kFloat32).reshape(os.shape);
    const at::Tensor var = doubles(observation_stats.var).to(torch::kFloat32).reshape(os.shape);
    x = ((x - mean) / (var + 1e-8).sqrt()).clamp(-observation_clip, observation_clip);
  }
  return x;
}

namespace {

// The network `spec` describes and the checkpoint parts a policy is loaded from.
void add_policy_parts(LoadedPolicy& policy, const Spec& spec, Checkpoint& checkpoint) {
  auto env = make_env(spec, 0);
  at::Generator init = at::detail::createCPUGenerator(0);  // every weight is then loaded
  policy.net = ActorCritic(NetworkConfig::from_spec(spec), env->observation_spec(), env->action_spec(), init);
  // Version-1 checkpoints did not store the normalisation settings: they come from the spec.
  const TrainConfig train = TrainConfig::from_spec(spec);
  policy.normalize_observations = train.normalize_observations;
  policy.observation_clip = train.observation_clip;
  checkpoint.add("model", *policy.net);
  checkpoint.add("obs_normalize", policy.normalize_observations, /*optional=*/true);
  checkpoint.add("obs_clip", policy.observation_clip, /*optional=*/true);
  checkpoint.add("obs", policy.observation_stats, /*optional=*/true);
}

}  // namespace

LoadedPolicy load_policy(const std::string& path, const SpecSchema& schema) {
  // Read the spec first, then build the network it describes and load the weights into it.
  LoadedPolicy policy;
  policy.path = path;
  policy.spec_ini = Checkpoint::read_spec(path);
  Spec spec(schema);
  try {
    spec = Spec::from_text(schema, policy.spec_ini, path + " (spec)", {});
  } catch (const InputError& e) {
    throw FileError(path + ": its spec does not load in this version: " + e.what());
  }
  Checkpoint checkpoint;
  add_policy_parts(policy, spec, checkpoint);
  checkpoint.load(path);
  policy.net->eval();
  return policy;
}

LoadedPolicy load_policy_bytes(const std::string& bytes, const Spec& spec, const std::string& origin) {
  LoadedPolicy policy;
  policy.path = origin;
  policy.spec_ini = spec.to_ini();
  Checkpoint checkpoint;
  add_policy_parts(policy, spec, checkpoint);
  checkpoint.load_bytes(bytes, origin);
  policy.net->eval();
  return policy;
}

void save_policy(const std::string& path, ActorCriticImpl& net, const Spec& spec) {
  Checkpoint checkpoint;
  checkpoint.add("model", net);
  checkpoint.save(path, spec.to_ini());
}

}  // namespace shardlab
