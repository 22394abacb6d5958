// The temporary-folder fixture and the small experiences the experience-file tests share
// (tests/test_experience_file.cpp and tests/test_experience_file_hdf5.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/experience_file.h"
#include "tests/test_util.h"

namespace shardlab::test {

// h5py is installed for the system python only (the pyenv python on PATH lacks it).
inline constexpr const char* kPython = "/usr/bin/python3";

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name) const { return dir_ + "/" + name; }

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  // Runs a python script with h5py; the test fails (not skips) if h5py is missing.
  test::CommandResult python(const std::string& script, const std::string& args) const {
    EXPECT_TRUE(std::filesystem::exists(kPython))
        << kPython << " missing: h5py tests need Debian's python3 with python3-h5py";
    const std::string path = file("script.py");
    std::ofstream(path) << script;
    return test::run_shell(std::string(kPython) + " " + path + " " + args);
  }

  std::string dir_;
};

class ExperienceFileTest : public TempDirTest {};

inline ObservationSpec small_observation_spec() {
  ObservationSpec spec;
  spec.shape = {2, 3};
  spec.low = 0.0f;
  spec.high = 1.0f;
  return spec;
}

inline ActionSpec action_spec(bool discrete) {
  ActionSpec spec;
  spec.discrete = discrete;
  if (discrete) {
    spec.num_actions = 5;
  } else {
    spec.dim = 3;
    spec.low = -2.0f;
    spec.high = 2.0f;
  }
  return spec;
}

// Deterministic rows whose values are exact in float32, so sums compare exactly.
inline Experience make_experience(bool discrete, bool next_observations, bool infos, size_t rows) {
  Experience e;
  e.observation_spec = small_observation_spec();
  e.action_spec = action_spec(discrete);
  const auto obs_size = static_cast<size_t>(e.obs_size());
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < obs_size; ++j) {
      e.observations.push_back(static_cast<float>((i * 7 + j) % 5) * 0.25f);
      if (next_observations) e.next_observations.push_back(static_cast<float>((i * 7 + j + 7) % 5) * 0.25f);
    }
    if (discrete) {
      e.discrete_actions.push_back(static_cast<int64_t>(i % 5));
    } else {
      for (int d = 0; d < 3; ++d) e.continuous_actions.push_back(static_cast<float>(int(i % 9) - 4 + d) * 0.5f);
    }
    e.rewards.push_back(i % 3 == 0 ? 1.5f : -0.25f);
    const bool terminal = i % 4 == 3;
    e.terminals.push_back(terminal);
    e.timeouts.push_back(!terminal && i % 7 == 6);
    if (infos) {
      e.infos["level_seed"].push_back(static_cast<int64_t>(1000 + i / 4));
      e.infos["step"].push_back(static_cast<int64_t>(i % 4) - 1);
    }
  }
  return e;
}

inline std::vector<std::string> info_names_of(const Experience& e) {
  std::vector<std::string> names;
  for (const auto& [name, column] : e.infos) names.push_back(name);
  return names;
}

inline void write_experience(const std::string& path, const Experience& e, bool overwrite = false) {
  ExperienceWriter writer(path, e.observation_spec, e.action_spec, e.has_next_observations(), info_names_of(e),
                          {{"env", "maze:size=25"}, {"seed", "7"}}, overwrite);
  writer.append(e);
  writer.close();
}

}  // namespace shardlab::test
