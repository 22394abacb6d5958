#include "agents/procgen_import.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>
#include <torch/torch.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "agents/actor_critic.h"
#include "agents/checkpoint.h"
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

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string shape_text(at::IntArrayRef sizes) {
  std::string out = "(";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + ")";
}

// --- The pickle of a state dict, made readable by libtorch's unpickler -----------------------
//
// libtorch's unpickler reads what libtorch writes, a subset of what Python's pickler writes for a
// state dict (protocol 2, torch.save's default). The pickle is rewritten first, opcode by opcode,
// following the stack: collections.OrderedDict() (the state dict, and every tensor's backward
// hooks) becomes an empty dict (libtorch would make it None); SETITEM and APPEND (a dict or list of
// one) become MARK ... SETITEMS / APPENDS; BUILD on a dict (the state dict's `_metadata`) becomes
// one more entry, kBuildKey, that the reader drops. Memo numbers are kept, so every BINGET still
// finds what it did.

constexpr const char* kBuildKey = "__shardlab_build_state__";

enum : unsigned char {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinString = 'T',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kBinBytes = 'B',
  kShortBinBytes = 'C',
};

struct PickleOp {
  unsigned char code;
  size_t begin, end;  // the opcode byte and its argument
};

uint64_t little_endian(const std::string& p, size_t at, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[at + i])) << (8 * i);
  return v;
}

std::vector<PickleOp> pickle_ops(const std::string& p, const std::string& path) {
  std::vector<PickleOp> ops;
  size_t at = 0;
  auto need = [&](size_t n) {
    if (at + n > p.size()) throw FileError(path + ": its pickle (data.pkl) ends early (the file is damaged)");
  };
  while (at < p.size()) {
    const size_t begin = at;
    const unsigned char code = static_cast<unsigned char>(p[at++]);
    size_t length = 0;
    switch (code) {
      case kMark:
      case kStop:
      case kPop:
      case kPopMark:
      case kDup:
      case kNone:
      case kBinPersId:
      case kReduce:
      case kAppend:
      case kBuild:
      case kAppends:
      case kEmptyList:
      case kSetItem:
      case kTuple:
      case kSetItems:
      case kEmptyDict:
      case kEmptyTuple:
      case kNewObj:
      case kTuple1:
      case kTuple2:
      case kTuple3:
      case kNewTrue:
      case kNewFalse:
        break;
      case kProto:
      case kBinInt1:
      case kBinGet:
      case kBinPut:
        length = 1;
        break;
      case kBinInt2:
        length = 2;
        break;
      case kBinInt:
      case kLongBinGet:
      case kLongBinPut:
        length = 4;
        break;
      case kBinFloat:
        length = 8;
        break;
      case kLong1:
      case kShortBinString:
      case kShortBinBytes:
        need(1);
        length = 1 + static_cast<unsigned char>(p[at]);
        break;
      case kLong4:
      case kBinString:
      case kBinUnicode:
      case kBinBytes:
        need(4);
        length = 4 + little_endian(p, at, 4);
        break;
      case kGlobal: {
        const size_t module_end = p.find('\n', at);
        const size_t name_end = module_end == std::string::npos ? module_end : p.find('\n', module_end + 1);
        if (name_end == std::string::npos) need(p.size() + 1);
        length = name_end + 1 - at;
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", code);
        throw FileError(path + ": its pickle has opcode " + hex + " at byte " + std::to_string(begin) +
                        ", not one of pickle protocols 2 and 3 (torch.save's default); save it again with "
                        "torch.save(obj, FILE)");
      }
    }
    need(length);
    at += length;
    ops.push_back({code, begin, at});
    if (code == kStop) break;
  }
  return ops;
}

std::string readable_by_libtorch(const std::string& p, const std::string& path) {
  const std::vector<PickleOp> ops = pickle_ops(p, path);
  const std::string ordered_dict = "ccollections\nOrderedDict\n";
  struct Item {
    size_t start;  // where its opcodes begin in `out`
    bool mark = false;
    bool dict = false;
  };
  std::vector<Item> stack;
  std::set<uint64_t> class_memo;  // memo entries holding the OrderedDict class
  std::string out;
  out.reserve(p.size() + p.size() / 8);
  auto fail = [&path](const std::string& what) {
    throw FileError(path + ": its pickle " + what + " (not a state dict torch.save wrote)");
  };
  auto pop = [&](size_t n) {
    if (stack.size() < n) fail("takes from an empty stack");
    const Item first = stack[stack.size() - n];
    for (const Item& item : std::vector<Item>(stack.end() - n, stack.end()))
      if (item.mark) fail("has a misplaced MARK");
    stack.resize(stack.size() - n);
    return first;
  };
  auto pop_to_mark = [&]() {
    while (!stack.empty() && !stack.back().mark) stack.pop_back();
    if (stack.empty()) fail("has no MARK where one is needed");
    const Item mark = stack.back();
    stack.pop_back();
    return mark;
  };
  auto emit = [&](const PickleOp& op) { out.append(p, op.begin, op.end - op.begin); };
  auto memo_id = [&](const PickleOp& op) { return little_endian(p, op.begin + 1, op.end - op.begin - 1); };
  for (size_t i = 0; i < ops.size(); ++i) {
    const PickleOp& op = ops[i];
    const size_t here = out.size();
    const bool od_global = op.code == kGlobal && p.compare(op.begin, op.end - op.begin, ordered_dict) == 0;
    const bool od_get = (op.code == kBinGet || op.code == kLongBinGet) && class_memo.count(memo_id(op));
    if (od_global || od_get) {
      size_t j = i + 1;
      const bool put = j < ops.size() && (ops[j].code == kBinPut || ops[j].code == kLongBinPut);
      if (put) {
        if (od_global) class_memo.insert(memo_id(ops[j]));
        ++j;
      }
      if (j + 1 >= ops.size() || ops[j].code != kEmptyTuple || ops[j + 1].code != kReduce)
        fail("uses collections.OrderedDict other than as OrderedDict()");
      out += static_cast<char>(kEmptyDict);  // the memo entry, if any, then holds this dict: never read
      if (put) emit(ops[i + 1]);
      stack.push_back({here, false, true});
      i = j + 1;
      continue;
    }
    switch (op.code) {
      case kProto:
      case kStop:
      case kBinPut:
      case kLongBinPut:
        emit(op);
        break;
      case kMark:
        emit(op);
        stack.push_back({here, true});
        break;
      case kEmptyDict:
        emit(op);
        stack.push_back({here, false, true});
        break;
      case kTuple: {
        const Item mark = pop_to_mark();
        emit(op);
        stack.push_back({mark.start});
        break;
      }
      case kAppends:
      case kSetItems:
        pop_to_mark();
        emit(op);
        break;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        const Item first = pop(op.code - kTuple1 + 1);
        emit(op);
        stack.push_back({first.start});
        break;
      }
      case kReduce:
      case kNewObj: {
        const Item first = pop(2);
        emit(op);
        stack.push_back({first.start});
        break;
      }
      case kBinPersId: {
        const Item id = pop(1);
        emit(op);
        stack.push_back({id.start});
        break;
      }
      case kSetItem:
      case kAppend: {
        const Item first = pop(op.code == kSetItem ? 2 : 1);
        out.insert(first.start, 1, static_cast<char>(kMark));
        out += static_cast<char>(op.code == kSetItem ? kSetItems : kAppends);
        break;
      }
      case kBuild: {
        const Item state = pop(1);
        if (stack.empty() || !stack.back().dict) fail("sets the state of an object (BUILD)");
        const std::string key = kBuildKey;
        std::string prefix(1, static_cast<char>(kMark));
        prefix += static_cast<char>(kBinUnicode);
        for (int b = 0; b < 4; ++b) prefix += static_cast<char>((key.size() >> (8 * b)) & 0xff);
        out.insert(state.start, prefix + key);
        out += static_cast<char>(kSetItems);
        break;
      }
      case kPop:
      case kPopMark:
      case kDup:
        fail("uses POP, POP_MARK or DUP");
        break;
      default:  // every other opcode pushes one value
        emit(op);
        stack.push_back({here});
    }
  }
  return out;
}

c10::IValue unpickle_torch_save(const std::string& bytes, const std::string& path) {
  auto adapter = std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), bytes.size());
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> opened;
  try {
    opened = std::make_unique<caffe2::serialize::PyTorchStreamReader>(adapter);
  } catch (const c10::Error& e) {
    // A zip whose records are not torch.save's (it writes `version` next to data.pkl).
    if (std::string(e.what_without_backtrace()).find("hasRecord(\"version\")") != std::string::npos)
      throw FileError(path + ": a zip file, but not one torch.save wrote (no 'version' record)");
    throw;
  }
  caffe2::serialize::PyTorchStreamReader& reader = *opened;
  if (!reader.hasRecord("data.pkl")) throw FileError(path + ": a zip file, but not one torch.save wrote (no data.pkl)");
  const auto [data, size] = reader.getRecord("data.pkl");
  const std::string pickle = readable_by_libtorch(std::string(static_cast<const char*>(data.get()), size), path);
  size_t at = 0;
  auto read = [&](char* buffer, size_t n) {
    const size_t take = std::min(n, pickle.size() - at);
    std::memcpy(buffer, pickle.data() + at, take);
    at += take;
    return take;
  };
  auto resolve = [&path](const c10::QualifiedName& name) -> c10::StrongTypePtr {
    throw FileError(path + ": holds a Python object of class '" + name.qualifiedName() +
                    "' that C++ cannot read; save just the weights: torch.save({'model_state_dict': "
                    "ckpt['model_state_dict']}, FILE)");
  };
  auto load_object = [&path](const at::StrongTypePtr&, const c10::IValue&) -> c10::intrusive_ptr<c10::ivalue::Object> {
    throw FileError(path + ": holds a Python object C++ cannot read");
  };
  auto read_record = [&reader](const std::string& name) { return std::get<0>(reader.getRecord("data/" + name)); };
  torch::jit::Unpickler unpickler(read, resolve, load_object, read_record, c10::Device(c10::kCPU));
  unpickler.set_version(reader.version());
  return unpickler.parse_ivalue();
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
    if (!entry.value().isTensor() && !(entry.key().isString() && entry.key().toStringRef() == kBuildKey)) {
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

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

std::string join(const std::vector<int64_t>& v) {
  std::string out;
  for (int64_t x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
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

}  // namespace

ProcgenToolsWeights read_procgen_tools(const std::string& path) {
  if (!fs::is_regular_file(path)) throw FileError(path + ": no such file");
  const std::string bytes = read_text_file(path);
  if (bytes.compare(0, 4, std::string("PK\x03\x04", 4)) != 0) {
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == kProto)
      throw FileError(path +
                      ": saved in torch's format before 1.6; save it again with torch >= 1.6: "
                      "torch.save(torch.load(OLD), NEW)");
    throw FileError(path + ": not a torch.save file (not a zip archive)");
  }
  c10::IValue root;
  try {
    survive_libtorch_crash([&] { unpickle_torch_save(bytes, path); },
                           path + ": libtorch crashed reading this file (the file is damaged)");
    root = unpickle_torch_save(bytes, path);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a readable torch.save file: " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw FileError(path + ": not a readable torch.save file: " + first_line(e.what()));
  }
  ProcgenToolsWeights w;
  const auto [dict, form] = find_state_dict(root, path);
  w.form = form;
  for (const auto& entry : dict) {
    if (entry.key().isString() && entry.key().toStringRef() == kBuildKey) continue;
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
  overrides.push_back("run.name=" + fs::path(options.out).lexically_normal().filename().string());
  overrides.insert(overrides.end(), options.overrides.begin(), options.overrides.end());
  const Spec spec = Spec::load(schema, "", overrides);

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
  const std::string bytes = read_text_file(path);
  result.sha256 = sha256_hex(bytes.data(), bytes.size());
  std::error_code error;
  const fs::path source = fs::absolute(path, error);

  // Every check has passed: write the folder (removed again if writing fails and it was new).
  const bool existed = fs::exists(options.out);
  fs::create_directories(fs::path(options.out) / "checkpoints", error);
  if (error) throw FileError(options.out + ": cannot create the run folder: " + error.message());
  result.checkpoint = (fs::path(options.out) / "checkpoints" / kCheckpointName).string();
  try {
    save_policy(result.checkpoint, *net, spec);
    write_text_file(options.out + "/spec.ini", spec.to_ini());
    // run.json as a training run's (agents/run_dir.h), with where the weights came from.
    nlohmann::ordered_json j;
    j["shardlab_version"] = SHARDLAB_VERSION;
    j["seed"] = spec.get_int("run.seed");
    j["threads"] = spec.get_int("run.threads");
    j["device"] = spec.get_string("run.device");
    j["algorithm"] = "imported";
    j["imported_from"] = {{"format", "procgen-tools"},      {"path", source.string()},
                          {"sha256", result.sha256},        {"form", result.form},
                          {"channels", result.channels},    {"hidden", result.hidden},
                          {"parameters", result.parameters}};
    j["history"] = nlohmann::json::array({{{"event", "import"}, {"time", now_utc()}, {"update", 0}}});
    write_text_file(options.out + "/run.json", j.dump(2) + "\n");
  } catch (...) {
    if (!existed) fs::remove_all(options.out, error);
    throw;
  }
  return result;
}

}  // namespace shardlab
