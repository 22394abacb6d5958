#include "agents/torch_pickle.h"

#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/unpickler.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "agents/checkpoint.h"
#include "core/error.h"
#include "core/text.h"

namespace shardlab {
namespace {

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

// The record names in a zip's central directory, or nothing when the directory cannot be read
// (a damaged file: libtorch then says what is wrong with it).
std::optional<std::vector<std::string>> zip_record_names(const std::string& b) {
  constexpr size_t kEnd = 22, kEntry = 46;  // end-of-directory record, directory entry (fixed parts)
  if (b.size() < kEnd) return std::nullopt;
  const size_t lowest = b.size() - kEnd > 0xffff ? b.size() - kEnd - 0xffff : 0;  // its comment is < 64 KiB
  for (size_t at = b.size() - kEnd + 1; at-- > lowest;) {
    if (little_endian(b, at, 4) != 0x06054b50) continue;
    const uint64_t count = little_endian(b, at + 10, 2);
    size_t entry = little_endian(b, at + 16, 4);
    std::vector<std::string> names;
    for (uint64_t i = 0; i < count; ++i) {
      if (entry > b.size() || b.size() - entry < kEntry || little_endian(b, entry, 4) != 0x02014b50) return std::nullopt;
      const size_t name = little_endian(b, entry + 28, 2);
      if (b.size() - entry - kEntry < name) return std::nullopt;
      names.push_back(b.substr(entry + kEntry, name));
      entry += kEntry + name + little_endian(b, entry + 30, 2) + little_endian(b, entry + 32, 2);
    }
    return names;
  }
  return std::nullopt;
}

// libtorch 1.13's PyTorchStreamReader leaks miniz's reader state when its constructor throws after
// opening the zip (tests/sanitizer/lsan.supp, mz_zip_reader_init), as it does for a sound zip
// without torch.save's records: such a zip is refused here, before libtorch sees it.
void require_torch_save_records(const std::string& bytes, const std::string& path) {
  const auto names = zip_record_names(bytes);
  if (!names) return;
  const size_t slash = names->empty() ? std::string::npos : names->front().find('/');
  if (slash == std::string::npos)
    throw FileError(path + ": a zip file, but not one torch.save wrote (its records are not in one folder)");
  const std::string folder = names->front().substr(0, slash + 1);
  for (const std::string& name : *names)
    if (name == folder + "version" || name == folder + ".data/version") return;
  throw FileError(path + ": a zip file, but not one torch.save wrote (no 'version' record)");
}

c10::IValue unpickle_torch_save(const std::string& bytes, const std::string& path) {
  require_torch_save_records(bytes, path);
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

}  // namespace

bool is_build_state_key(const c10::IValue& key) { return key.isString() && key.toStringRef() == kBuildKey; }

c10::IValue read_torch_save(const std::string& bytes, const std::string& path) {
  if (bytes.compare(0, 4, std::string("PK\x03\x04", 4)) != 0) {
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == kProto)
      throw FileError(path +
                      ": saved in torch's format before 1.6; save it again with torch >= 1.6: "
                      "torch.save(torch.load(OLD), NEW)");
    throw FileError(path + ": not a torch.save file (not a zip archive)");
  }
  try {
    survive_libtorch_crash([&] { unpickle_torch_save(bytes, path); },
                           path + ": libtorch crashed reading this file (the file is damaged)");
    return unpickle_torch_save(bytes, path);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw FileError(path + ": not a readable torch.save file: " + first_line(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw FileError(path + ": not a readable torch.save file: " + first_line(e.what()));
  }
}

}  // namespace shardlab
