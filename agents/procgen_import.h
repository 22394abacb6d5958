// procgen-tools' maze networks as shardlab runs: `shardlab import procgen-tools FILE.pth --out DIR`.
//
// procgen-tools (and the trainer it builds on, train-procgen-pytorch) save the IMPALA actor-critic
// with `torch.save` (the zip format of torch >= 1.6): procgen-tools as {'model_state_dict': ...},
// the upstream trainer as {'state_dict': ...}; a bare state dict is accepted too, other entries
// (optimizer state) are ignored. Its tensor names are our ActorCritic's parameter names
// (`embedder.block1.conv.weight`, ..., `embedder.fc.weight`, `fc_policy.weight`, `fc_value.bias`),
// its input 3 x 64 x 64 RGB in [0, 1] as ours. The widths come from the file (block convs, fc);
// every name and shape is checked against the network they describe before anything is written.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shardlab {

class SpecSchema;

// The weights of a procgen-tools file, read and sized (not yet checked against our network).
struct ProcgenToolsWeights {
  std::string form;               // "model_state_dict", "state_dict" or "bare"
  std::vector<int64_t> channels;  // the IMPALA block widths, e.g. 64,128,128
  int64_t hidden = 0;             // the fc width (256 in every published model)
  std::string sha256;             // of the file's bytes, as read and parsed
  std::map<std::string, at::Tensor> tensors;
};

// Reads FILE; FileError (one line naming FILE) for anything that is not a torch.save zip of such
// a state dict: not a zip (or torch's pre-1.6 format), no state dict in it, no first conv.
ProcgenToolsWeights read_procgen_tools(const std::string& path);

// The spec entries an imported network runs with: the maze, hard world (25x25), Procgen's
// pictures (procgen_rgb) and 15 actions, the widths, uniform cheese, no observation normalisation.
std::vector<std::string> procgen_tools_spec(const ProcgenToolsWeights& weights);

struct ProcgenImportOptions {
  std::string out;                     // the run folder to write
  bool force = false;                  // replace an earlier import at `out`
  std::vector<std::string> overrides;  // "key=value" after procgen_tools_spec (e.g. env.procgen_assets)
  // Tests: called with each file's path once it is written into the new folder, before that folder
  // replaces `out`; what it throws fails the import as a failed write would.
  std::function<void(const std::string&)> after_file_written;
};

struct ProcgenImportResult {
  std::string checkpoint;  // OUT/checkpoints/update_0000000.pt
  std::string form;
  std::vector<int64_t> channels;
  int64_t hidden = 0;
  std::string sha256;  // of the source file
  int64_t parameters = 0;
};

// Reads and checks FILE, then writes the run folder `options.out`:
//   spec.ini, run.json (with "imported_from": source path, its SHA-256, form, widths) and
//   checkpoints/update_0000000.pt (the policy, agents/checkpoint.h's format)
// that eval, render and analyze load as any run (env.procgen_assets stored as an absolute path).
// The folder is built beside `out` (core/atomic_file.h's AtomicFolder) and moved into place
// complete: a failure or a kill leaves `out` as it was. Nothing is written unless every check passes:
// FileError names the first tensor that is missing, unexpected or of another shape; InputError an
// existing `out` without `force` (with `force` only an earlier import, or an empty folder, is replaced).
ProcgenImportResult import_procgen_tools(const std::string& path, const ProcgenImportOptions& options,
                                         const SpecSchema& schema);

}  // namespace shardlab
