#include "agents/procgen_import.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
#include "agents/run_dir.h"
#include "agents/torch_pickle.h"
#include "core/atomic_file.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/registry.h"

namespace shardlab {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kProcgenActions = 15;
constexpr const char* kFirstConv = "embedder.block1.conv.weight";
constexpr const char* kCheckpointName = "update_0000000.pt";

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "(";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + ")";
}


// The state dict in what torch.save stored: wrapped by procgen-tools or the upstream trainer, or bare.
std::pair<c10::impl::GenericDict, std::string> find_state_dict(const c10::IValue& root, const std::string& path) {
  if (!root.isGenericDict()) throw FileError(path + ": holds a " + root.tagKind() + ", not a dict of weights");
  const c10::impl::GenericDict top = root.toGenericDict();
  for (const std::string wrapper : {"model_state_dict", "state_dict"}) {
    const auto it = top.find(c10::IValue(wrapper));
    if (it == top.end()) continue;
    if (!it->value().isGenericDict())
      throw FileError(path + ": its '" + wrapper + "' is a " + it->value().tagKind() + ", not a dict of tensors");
    return {it->value().toGenericDict(), wrapper};
  }
  std::string keys;
  for (const auto& entry : top) {
    if (!entry.value().isTensor() && !is_build_state_key(entry.key())) {
      for (const auto& e : top) {
        if (keys.size() > 200) break;
        keys += (keys.empty() ? "" : ", ") + (e.key().isString() ? e.key().toStringRef() : e.key().tagKind());
      }
      throw FileError(path +
                      ": no state dict in it (expected 'model_state_dict', 'state_dict' or a dict of tensors; "
                      "it holds " +
                      keys + ")");
    }
  }
  return {top, "bare"};
}

// An existing --out: refused without force; with it, only a folder an import wrote (or an empty one).
void claim_run_folder(const std::string& out, bool force) {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(out, error);
  if (!fs::exists(status)) return;
  if (!force) throw InputError(out + " exists; pass --force to replace an earlier import there");
  if (!fs::is_directory(status))
    throw InputError(out + " exists and is not a folder; --force replaces only an earlier import");
  if (fs::is_empty(out, error)) return;
  const std::string run_json = out + "/run.json";
  bool imported = false;
  if (fs::is_regular_file(run_json)) {
    try {
      imported = nlohmann::json::parse(read_text_file(run_json)).contains("imported_from");
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (!imported)
    throw InputError(out +
                     " holds something other than an import (no 'imported_from' in its run.json); "
                     "--force replaces only an earlier import");
}

// An earlier import's folder may hold what the user added (analysis/, an eval.json): everything
// but the three files an import writes goes into the new folder too, as hard links, so the
// earlier folder stays whole until the new one replaces it.
void keep_other_entries(const std::string& out, const fs::path& built) {
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(out, error))) return;
  const fs::path own_checkpoint = fs::path("checkpoints") / kCheckpointName;
  int64_t kept = 0;
  for (auto it = fs::recursive_directory_iterator(out); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path relative = fs::relative(it->path(), out);
    if (relative == "spec.ini" || relative == "run.json" || relative == own_checkpoint) continue;
    const fs::path target = built / relative;
    if (it->is_directory() && !it->is_symlink()) {
      fs::create_directories(target, error);
    } else if (it->is_symlink()) {
      fs::copy_symlink(it->path(), target, error);
    } else {
      fs::create_hard_link(it->path(), target, error);
      if (error) fs::copy_file(it->path(), target, error);  // a filesystem without hard links
    }
    if (error) throw FileError(out + ": cannot keep " + relative.string() + " in the new import: " + error.message());
    kept += relative.parent_path().empty() && relative != "checkpoints";
  }
  if (kept > 0)
    std::cerr << "import: kept " << kept << " other entr" << (kept == 1 ? "y" : "ies") << " of " << out
              << " (made from the earlier weights)\n";
}

}  // namespace

ProcgenToolsWeights read_procgen_tools(const std::string& path) {
  const std::string bytes = read_text_file(path);  // "no such file", "is a folder", ...
  ProcgenToolsWeights w;
  w.sha256 = sha256_hex(bytes.data(), bytes.size());  // of the very bytes read, not of a second read
  const auto [dict, form] = find_state_dict(read_torch_save(bytes, path), path);
  w.form = form;
  for (const auto& entry : dict) {
    if (is_build_state_key(entry.key())) continue;
    if (!entry.key().isString() || !entry.value().isTensor())
      throw FileError(path + ": its state dict holds a " + entry.value().tagKind() + " under " +
                      (entry.key().isString() ? "'" + entry.key().toStringRef() + "'" : "a non-string key") +
                      "; expected tensors by name");
    const at::Tensor t = entry.value().toTensor();
    if (!t.is_floating_point())
      throw FileError(path + ": tensor '" + entry.key().toStringRef() + "' holds " +
                      std::string(c10::toString(t.scalar_type())) + ", not floating-point weights");
    w.tensors[entry.key().toStringRef()] = t.to(torch::kFloat32).contiguous();
  }
  // The widths: each block's conv is (width, in, 3, 3); the fc is (hidden, width3 * 8 * 8).
  for (int block = 1; block <= 3; ++block) {
    const std::string name = "embedder.block" + std::to_string(block) + ".conv.weight";
    const auto it = w.tensors.find(name);
    if (it == w.tensors.end())
      throw FileError(path + ": no tensor '" + name + "' (the IMPALA network's block " + std::to_string(block) +
                      " conv)");
    if (it->second.dim() != 4 || it->second.size(2) != 3 || it->second.size(3) != 3)
      throw FileError(path + ": tensor '" + name + "' has shape " + shape_text(it->second.sizes()) +
                      ", expected (width, " + (block == 1 ? std::string("3") : "in") + ", 3, 3)");
    w.channels.push_back(it->second.size(0));
  }
  const auto fc = w.tensors.find("embedder.fc.weight");
  if (fc == w.tensors.end()) throw FileError(path + ": no tensor 'embedder.fc.weight' (the IMPALA network's fc)");
  if (fc->second.dim() != 2)
    throw FileError(path + ": tensor 'embedder.fc.weight' has shape " + shape_text(fc->second.sizes()) +
                    ", expected (hidden, features)");
  w.hidden = fc->second.size(0);
  return w;
}

std::vector<std::string> procgen_tools_spec(const ProcgenToolsWeights& w) {
  return {"env.name=maze",
          "env.distribution=hard",
          "env.observation=procgen_rgb",
          "env.actions=procgen",
          "env.placement=uniform",
          "agent.torso=impala",
          "agent.channels=" + join(w.channels),
          "agent.hidden=" + std::to_string(w.hidden),
          "train.normalize_observations=false"};
}

ProcgenImportResult import_procgen_tools(const std::string& path, const ProcgenImportOptions& options,
                                         const SpecSchema& schema) {
  if (options.out.empty()) throw InputError("--out RUN_DIR is required");
  claim_run_folder(options.out, options.force);
  ProcgenToolsWeights weights = read_procgen_tools(path);

  std::vector<std::string> overrides = procgen_tools_spec(weights);
  const fs::path out = fs::path(options.out).lexically_normal();
  overrides.push_back("run.name=" + (out.has_filename() ? out : out.parent_path()).filename().string());
  overrides.insert(overrides.end(), options.overrides.begin(), options.overrides.end());
  Spec spec = Spec::load(schema, "", overrides);
  // The assets as an absolute path, so eval and analyze find them from any working directory.
  const std::string assets = spec.get_string("env.procgen_assets");
  if (!assets.empty()) spec.set("env.procgen_assets", fs::absolute(assets).lexically_normal().string(), "--set");

  // Our network as the spec describes it, then every tensor checked against it by name and shape.
  auto env = make_env(spec, 0);
  if (!env->action_spec().discrete || env->action_spec().num_actions != kProcgenActions)
    throw InputError("env.actions: procgen-tools' networks act with Procgen's 15 actions; keep env.actions = procgen");
  at::Generator init = at::detail::createCPUGenerator(0);  // every weight is then replaced
  ActorCritic net(NetworkConfig::from_spec(spec), env->observation_spec(), env->action_spec(), init);
  const auto expected = net->named_parameters();
  for (const auto& p : expected) {
    const auto it = weights.tensors.find(p.key());
    if (it == weights.tensors.end())
      throw FileError(path + ": no tensor '" + p.key() + "' (the IMPALA network with widths " + join(weights.channels) +
                      " has it)");
    if (it->second.sizes() != p.value().sizes())
      throw FileError(path + ": tensor '" + p.key() + "' has shape " + shape_text(it->second.sizes()) + ", expected " +
                      shape_text(p.value().sizes()) + " (widths " + join(weights.channels) + ", hidden " +
                      std::to_string(weights.hidden) + ", 15 actions, 64x64 input)");
  }
  for (const auto& [name, tensor] : weights.tensors)
    if (!expected.contains(name))
      throw FileError(path + ": unexpected tensor '" + name + "' " + shape_text(tensor.sizes()) +
                      " (not in procgen-tools' IMPALA network)");
  ProcgenImportResult result;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->named_parameters()) {
      const at::Tensor& t = weights.tensors.at(p.key());
      if (!torch::isfinite(t).all().item<bool>())
        throw FileError(path + ": tensor '" + p.key() + "' holds non-finite values");
      p.value().copy_(t);  // keeps the parameter's own memory format (channels-last convs)
      result.parameters += t.numel();
    }
  }
  result.form = weights.form;
  result.channels = weights.channels;
  result.hidden = weights.hidden;
  result.sha256 = weights.sha256;

  // Every check has passed: the whole folder is built next to `out` and then replaces it in one
  // step, so an earlier import stays as it was until the new one is complete.
  AtomicFolder folder(options.out);
  const fs::path built = folder.temporary_path();
  auto written = [&](const fs::path& file) {
    if (options.after_file_written) options.after_file_written(file.string());
  };
  std::error_code error;
  fs::create_directories(built / "checkpoints", error);
  if (error) throw FileError(options.out + ": cannot create " + (built / "checkpoints").string() + ": " + error.message());
  save_policy((built / "checkpoints" / kCheckpointName).string(), *net, spec);
  written(built / "checkpoints" / kCheckpointName);
  write_text_file((built / "spec.ini").string(), spec.to_ini());
  written(built / "spec.ini");
  // run.json as a training run's (agents/run_dir.h), with where the weights came from.
  nlohmann::json facts;
  facts["algorithm"] = "imported";
  facts["imported_from"] = {{"format", "procgen-tools"},   {"path", fs::absolute(path, error).string()},
                            {"sha256", result.sha256},     {"form", result.form},
                            {"channels", result.channels}, {"hidden", result.hidden},
                            {"parameters", result.parameters}};
  RunDir::write_run_json_at(built.string(), spec, facts, "import");
  written(built / "run.json");
  keep_other_entries(options.out, built);
  folder.commit();
  result.checkpoint = (fs::path(folder.path()) / "checkpoints" / kCheckpointName).string();
  return result;
}

}  // namespace shardlab
