#include "fuzz/fuzz_inputs.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <typeinfo>

#include "agents/checkpoint.h"
#include "analysis/activation_log.h"
#include "core/error.h"
#include "core/experience_file.h"
#include "core/spec.h"
#include "experiments/schema.h"

namespace shardlab::fuzz {
namespace {

const char* const kScratchNames[] = {"experience.h5", "activations.h5", "checkpoint.pt"};

void remove_scratch_files() {
  for (const char* name : kScratchNames) std::remove(scratch_path(name).c_str());
}

// Writes the input where the file-based readers can open it (they take paths); the files go at exit.
std::string write_scratch(const std::string& target, const uint8_t* data, size_t size) {
  static const bool cleanup_registered = std::atexit(remove_scratch_files) == 0;
  (void)cleanup_registered;
  const std::string path = scratch_path(target);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("fuzz: cannot write the scratch file " + path);  // the harness's, not a finding
  return path;
}

// A broken promise of an accepted input, reported as a finding (not a shardlab error).
[[noreturn]] void property_violated(const std::string& what) { throw std::logic_error("property violated: " + what); }

}  // namespace

std::string scratch_path(const std::string& target) {
  const char* base = std::getenv("TMPDIR");
  return std::string(base && *base ? base : "/tmp") + "/shardlab_fuzz_" + std::to_string(getpid()) + "_" + target;
}

void feed_spec(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t end = input.find('\0');
  const std::string text = input.substr(0, end);
  std::vector<std::string> overrides;
  for (size_t begin = end; begin != std::string::npos && begin < input.size();) {
    const size_t next = input.find('\0', begin + 1);
    overrides.push_back(input.substr(begin + 1, next == std::string::npos ? std::string::npos : next - begin - 1));
    begin = next;
  }
  const SpecSchema& schema = shardlab_schema();
  const Spec spec = Spec::from_text(schema, text, "fuzz.ini", overrides);

  // Accepted: every value was validated when it was read in, so every getter works ...
  for (const auto& [name, key] : schema.keys()) {
    try {
      switch (key.type) {
        case KeyType::kInt:
          spec.get_int(name);
          break;
        case KeyType::kFloat:
          spec.get_float(name);
          break;
        case KeyType::kBool:
          spec.get_bool(name);
          break;
        case KeyType::kString:
          spec.get_string(name);
          break;
      }
    } catch (const Error& e) {
      property_violated("accepted spec, but reading " + name + " fails: " + e.what());
    }
  }
  // ... and the resolved spec loads back into the same values.
  const std::string ini = spec.to_ini();
  std::optional<Spec> again;
  try {
    again.emplace(Spec::from_text(schema, ini, "to_ini", {}));
  } catch (const Error& e) {
    property_violated(std::string("to_ini() of an accepted spec does not load back: ") + e.what());
  }
  const std::string difference = again->difference_from(spec);
  if (!difference.empty()) property_violated("to_ini() does not load back into the same values: " + difference);
}

void feed_experience_file(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("experience.h5", data, size);
  try {
    describe_h5(path);
  } catch (const Error&) {
    // Not readable HDF5 (the usual case): the reader below must say so too.
  }
  const ExperienceReader reader(path);
  const Experience e = reader.read(0, reader.rows());
  reader.next_indices();
  summarize_experience(e.rewards, e.terminals, e.timeouts);
}

void feed_activation_log(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("activations.h5", data, size);
  const analysis::ActivationLog log = analysis::ActivationLog::open(path);
  log.cheese_cells();
  if (log.rows() > 0) {
    maze::Cell mouse;
    log.maze(0, &mouse);
  }
  for (const std::string& layer : log.layers()) {
    // Each call may refuse with an InputError (a layer that is not spatial, no rows): keep going.
    try {
      log.layer_shape(layer);
      if (log.rows() > 0) log.row(layer, 0);
      log.channel(layer, 0);
    } catch (const InputError&) {
    }
    try {
      analysis::describe_layer(log, layer, std::nullopt, 0, "");
    } catch (const InputError&) {
    }
  }
}

void feed_checkpoint(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("checkpoint.pt", data, size);
  Checkpoint::read_spec(path);
  load_policy(path, shardlab_schema());
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"spec", feed_spec},
                                          {"experience_file", feed_experience_file},
                                          {"activation_log", feed_activation_log},
                                          {"checkpoint", feed_checkpoint}};
  return all;
}

int run_fuzz_input(const char* target, Feed feed, const uint8_t* data, size_t size) {
  try {
    feed(data, size);
  } catch (const Error&) {
    // shardlab refused the input with one of its own errors: the expected outcome.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_%s: finding: %s escaped: %s\n", target, typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz_%s: finding: a non-std exception escaped\n", target);
    std::abort();
  }
  return 0;
}

}  // namespace shardlab::fuzz
