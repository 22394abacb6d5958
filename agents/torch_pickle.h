// What Python's torch.save wrote (the zip format of torch >= 1.6), read in C++: a state dict's
// tensors, nested dicts, lists and plain values, read with libtorch's own unpickler after the
// pickle is rewritten into the subset that unpickler knows (agents/torch_pickle.cpp says how).
// Python objects other than these (a model class, an optimizer) are refused, never executed.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>

namespace shardlab {

// The object torch.save stored in `bytes` (the whole file; `path` names it in errors). FileError
// (one line naming `path`) for: not a zip, torch's format before 1.6, a zip torch.save did not
// write, a damaged pickle or archive (read once in a child process first, as libtorch crashes on
// some), a pickle beyond protocols 2 and 3, or a Python object C++ cannot read.
c10::IValue read_torch_save(const std::string& bytes, const std::string& path);

// A pickle's BUILD on a dict (a state dict's `_metadata`) comes back as one more entry under this
// key; a reader of the dict skips it.
bool is_build_state_key(const c10::IValue& key);

}  // namespace shardlab
