// Experience files against HDF5 itself: h5py in both directions, one-line errors for files that
// are not what they claim to be, and the HDF5 layer under experience files (core/hdf5_file.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/experience_file.h"
#include "core/hdf5_file.h"
#include "tests/experience_file_fixture.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;

using test::ExperienceFileTest;
using test::make_experience;
using test::TempDirTest;
using test::write_experience;

class Hdf5FileTest : public TempDirTest {};

// ---------------------------------------------------------------------------------------------
// h5py in both directions

constexpr const char* kCheckWrittenFile = R"PY(
import sys
import h5py
import numpy as np

path, discrete = sys.argv[1], sys.argv[2] == "1"
with h5py.File(path, "r") as f:
    keys = sorted(f.keys())
    assert keys == ["actions", "infos", "metadata", "next_observations", "observations", "rewards", "terminals",
                    "timeouts"], keys
    n = f["rewards"].shape[0]
    assert f["observations"].dtype == np.float32 and f["observations"].shape == (n, 2, 3), f["observations"]
    assert f["next_observations"].dtype == np.float32 and f["next_observations"].shape == (n, 2, 3)
    if discrete:
        assert f["actions"].dtype == np.int64 and f["actions"].shape == (n,), f["actions"]
    else:
        assert f["actions"].dtype == np.float32 and f["actions"].shape == (n, 3), f["actions"]
    assert f["rewards"].dtype == np.float32 and f["rewards"].shape == (n,)
    for key in ("terminals", "timeouts"):
        assert f[key].dtype == np.bool_ and f[key].shape == (n,), (key, f[key].dtype)
        assert f[key][:].dtype == np.bool_
    assert sorted(f["infos"].keys()) == ["level_seed", "step"]
    assert f["infos/level_seed"].dtype == np.int64
    # String attributes are fixed-length (under the object header's checksum): h5py gives bytes.
    meta = dict(f["metadata"].attrs)
    assert meta == {"env": b"maze:size=25", "seed": b"7"}, meta
    assert f.attrs["format"].decode() == "shardlab-experience"
    assert list(f.attrs["observation_shape"]) == [2, 3]
    assert f["observations"].compression == "gzip"
    print(n, float(f["observations"][:].sum(dtype=np.float64)), float(f["actions"][:].sum(dtype=np.float64)),
          float(f["rewards"][:].sum(dtype=np.float64)), " ".join(str(i) for i in np.flatnonzero(f["terminals"][:])),
          "|", " ".join(str(i) for i in np.flatnonzero(f["timeouts"][:])))
)PY";

TEST_F(ExperienceFileTest, H5pyReadsAWrittenFile) {
  for (bool discrete : {true, false}) {
    const Experience e = make_experience(discrete, true, true, 30);
    write_experience(file("x.h5"), e, true);
    const test::CommandResult r = python(kCheckWrittenFile, file("x.h5") + (discrete ? " 1" : " 0"));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

    double obs_sum = 0, action_sum = 0, reward_sum = 0;
    for (float v : e.observations) obs_sum += v;
    for (int64_t a : e.discrete_actions) action_sum += static_cast<double>(a);
    for (float a : e.continuous_actions) action_sum += a;
    for (float v : e.rewards) reward_sum += v;
    std::ostringstream expected;
    expected << e.size() << " " << obs_sum << " " << action_sum << " " << reward_sum << " ";
    std::string terminals, timeouts;
    for (size_t i = 0; i < e.size(); ++i) {
      if (e.terminals[i]) terminals += (terminals.empty() ? "" : " ") + std::to_string(i);
      if (e.timeouts[i]) timeouts += (timeouts.empty() ? "" : " ") + std::to_string(i);
    }
    // Python prints floats as 12.5 and 12.0; compare the numbers, then the flag rows.
    std::istringstream got(r.out);
    size_t n = 0;
    double obs = 0, actions = 0, rewards = 0;
    got >> n >> obs >> actions >> rewards;
    EXPECT_EQ(n, e.size());
    EXPECT_DOUBLE_EQ(obs, obs_sum);
    EXPECT_DOUBLE_EQ(actions, action_sum);
    EXPECT_DOUBLE_EQ(rewards, reward_sum);
    EXPECT_NE(r.out.find(" " + terminals + " | " + timeouts), std::string::npos) << r.out;
  }
}

constexpr const char* kWriteD4rlFile = R"PY(
import sys
import h5py
import numpy as np

path, kind = sys.argv[1], sys.argv[2]
n = 10
i = np.arange(n)
with h5py.File(path, "w") as f:
    if kind == "continuous":
        # As D4RL's mujoco files: float64 observations, (N, 1) rewards, numpy bool flags, float infos.
        f["observations"] = (i[:, None] * 0.5 + np.arange(4)[None, :]).astype(np.float64)
        f["next_observations"] = (i[:, None] * 0.5 + np.arange(4)[None, :] + 0.5).astype(np.float64)
        f["actions"] = ((i[:, None] % 5) * 0.25 - 0.5 + np.zeros((1, 2))).astype(np.float32)
        f["rewards"] = i.reshape(n, 1).astype(np.float32)
        f["terminals"] = np.isin(i, [3, 9])
        f["timeouts"] = i == 6
        f["infos/qpos"] = np.ones((n, 3))
        f["infos/goal"] = np.zeros((n, 2), dtype=np.float32)
        f["infos/level_seed"] = (i // 4).astype(np.int32)
    else:
        # Older and Atari-style files: uint8 terminals, int32 actions, no timeouts.
        f["observations"] = np.arange(n * 6, dtype=np.uint8).reshape(n, 2, 3)
        f["actions"] = (i % 3 + 1).astype(np.int32)
        f["rewards"] = np.full(n, 0.5, dtype=np.float32)
        f["terminals"] = (i % 5 == 4).astype(np.uint8)
    f.create_group("metadata").attrs["algorithm"] = "SAC"
)PY";

TEST_F(ExperienceFileTest, ReadsD4rlFilesWrittenByH5py) {
  const test::CommandResult r = python(kWriteD4rlFile, file("d4rl.h5") + " continuous");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const Experience e = read_experience(file("d4rl.h5"));
  ASSERT_EQ(e.size(), 10u);
  EXPECT_EQ(e.observation_spec.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(e.observation_spec.low, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(e.observation_spec.high, std::numeric_limits<float>::infinity());
  for (size_t i = 0; i < 10; ++i) {
    for (size_t j = 0; j < 4; ++j) {
      EXPECT_FLOAT_EQ(e.observations[i * 4 + j], i * 0.5f + j);
      EXPECT_FLOAT_EQ(e.next_observations[i * 4 + j], i * 0.5f + j + 0.5f);
    }
    EXPECT_FLOAT_EQ(e.rewards[i], static_cast<float>(i));
    EXPECT_EQ(e.terminals[i], i == 3 || i == 9);
    EXPECT_EQ(e.timeouts[i], i == 6);
    EXPECT_FLOAT_EQ(e.continuous_actions[i * 2 + 1], (i % 5) * 0.25f - 0.5f);
  }
  EXPECT_FALSE(e.action_spec.discrete);
  EXPECT_EQ(e.action_spec.dim, 2);
  EXPECT_EQ(e.action_spec.low, -1.0f);
  EXPECT_EQ(e.action_spec.high, 1.0f);
  // Integer infos are read, float ones (qpos, goal) do not fit Experience::infos and are skipped.
  ASSERT_EQ(e.infos.size(), 1u);
  EXPECT_EQ(e.infos.at("level_seed"), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2}));

  const test::CommandResult r2 = python(kWriteD4rlFile, file("old.h5") + " discrete");
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  const Experience old = read_experience(file("old.h5"));
  ASSERT_EQ(old.size(), 10u);
  EXPECT_EQ(old.observation_spec.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(old.observations[13], 13.0f);
  EXPECT_TRUE(old.action_spec.discrete);
  EXPECT_EQ(old.action_spec.num_actions, 4);  // max + 1
  EXPECT_EQ(old.discrete_actions, (std::vector<int64_t>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1}));
  EXPECT_EQ(old.terminals, (std::vector<uint8_t>{0, 0, 0, 0, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(old.timeouts, std::vector<uint8_t>(10, 0));
}

// ---------------------------------------------------------------------------------------------
// Files that are not experience files

// Returns the FileError message of read_experience, failing if it succeeds or throws anything else.
std::string read_error(const std::string& path) {
  try {
    read_experience(path);
  } catch (const FileError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected FileError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected FileError reading " << path;
  return "";
}

TEST_F(ExperienceFileTest, BadInputsGiveOneLineFileErrors) {
  testing::internal::CaptureStderr();

  std::ofstream(file("text.h5")) << "observations,actions,rewards\n1,2,3\n";
  std::ofstream(file("empty.h5")).flush();
  write_experience(file("whole.h5"), make_experience(true, true, true, 2000));
  fs::copy_file(file("whole.h5"), file("truncated.h5"));
  fs::resize_file(file("truncated.h5"), fs::file_size(file("whole.h5")) / 2);
  std::ofstream(file("fake.h5"), std::ios::binary) << std::string("\x89HDF\r\n\x1a\n", 8) << std::string(600, '\x07');
  {
    Hdf5File f = Hdf5File::create(file("unrelated.h5"));
    f.create_dataset("weights", Hdf5Type::kFloat32, {4});
    f.append("weights", std::vector<float>(8, 1.0f));
    f.close();
  }
  {
    Hdf5File f = Hdf5File::create(file("mismatched.h5"));
    for (const char* name : {"observations", "next_observations"}) {
      f.create_dataset(name, Hdf5Type::kFloat32, {2});
      f.append(name, std::vector<float>(10, 0.5f));
    }
    f.create_dataset("actions", Hdf5Type::kInt64, {});
    f.append("actions", std::vector<int64_t>(5, 1));
    f.create_dataset("rewards", Hdf5Type::kFloat32, {});
    f.append("rewards", std::vector<float>(5, 1.0f));
    f.create_dataset("terminals", Hdf5Type::kBool, {});
    f.append("terminals", std::vector<uint8_t>(2, 0));
    f.create_dataset("timeouts", Hdf5Type::kBool, {});
    f.append("timeouts", std::vector<uint8_t>(5, 0));
    f.close();
  }

  const struct {
    std::string name, expected;
  } cases[] = {
      {"text.h5", "text.h5: not an HDF5 file"},
      {"empty.h5", "empty.h5: empty file (0 bytes), not an HDF5 file"},
      {"truncated.h5", "truncated.h5: truncated HDF5 file ("},
      {"fake.h5", "fake.h5: "},
      {"missing.h5", "missing.h5: no such file"},
      {"unrelated.h5", "unrelated.h5: dataset 'observations' missing (not an experience file)"},
      {"mismatched.h5", "mismatched.h5: dataset 'terminals' has 2 rows, expected 5 (truncated file?)"},
      {"", ": is a directory, not an HDF5 file"},
  };
  for (const auto& c : cases) {
    const std::string message = read_error(file(c.name));
    EXPECT_EQ(message.rfind(file(c.name), 0), 0u) << message;  // starts with the path
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }

  // inspect lists what it can and says why a file is not an experience file.
  for (const char* name : {"text.h5", "empty.h5", "truncated.h5", "fake.h5"})
    EXPECT_THROW(describe_h5(file(name)), FileError) << name;
  const std::string unrelated = describe_h5(file("unrelated.h5"));
  EXPECT_NE(unrelated.find("/weights"), std::string::npos) << unrelated;
  EXPECT_NE(unrelated.find("dataset (2, 4) float32"), std::string::npos) << unrelated;
  EXPECT_EQ(unrelated.find("experience"), std::string::npos) << unrelated;
  const std::string mismatched = describe_h5(file("mismatched.h5"));
  EXPECT_NE(mismatched.find("experience summary unavailable: " + file("mismatched.h5") + ": dataset 'terminals' has 2"),
            std::string::npos)
      << mismatched;

  // HDF5's own error stack never reaches stderr.
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// ---------------------------------------------------------------------------------------------
// The HDF5 layer

TEST_F(Hdf5FileTest, AttributesRoundTripOnFilesGroupsAndDatasets) {
  {
    Hdf5File f = Hdf5File::create(file("a.h5"));
    f.create_group("g/h");
    f.create_dataset("g/d", Hdf5Type::kInt32, {});
    for (const char* object : {"/", "g/h", "g/d"}) {
      f.set_string_attribute(object, "name", std::string("value of ") + object);
      f.set_int_attribute(object, "count", -42);
      f.set_double_attribute(object, "rate", 0.125);
      f.set_int_array_attribute(object, "shape", {3, 25, 25});
      f.set_double_array_attribute(object, "bounds", {-1.5, 2.5});
    }
    f.set_int_attribute("/", "count", 43);  // replaces
    f.close();
  }
  const Hdf5File f = Hdf5File::open(file("a.h5"));
  EXPECT_TRUE(f.has_group("g"));
  EXPECT_TRUE(f.has_group("/g/h"));
  EXPECT_TRUE(f.has_dataset("g/d"));
  EXPECT_FALSE(f.has_dataset("g"));
  EXPECT_FALSE(f.has_dataset("g/d/x"));
  EXPECT_EQ(f.member_names("g"), (std::vector<std::string>{"d", "h"}));
  EXPECT_EQ(f.int_attribute("/", "count"), 43);
  for (const char* object : {"g/h", "g/d"}) {
    EXPECT_EQ(f.string_attribute(object, "name"), std::string("value of ") + object);
    EXPECT_EQ(f.int_attribute(object, "count"), -42);
    EXPECT_EQ(f.double_attribute(object, "count"), -42.0);
    EXPECT_EQ(f.double_attribute(object, "rate"), 0.125);
    EXPECT_EQ(f.int_array_attribute(object, "shape"), (std::vector<int64_t>{3, 25, 25}));
    EXPECT_EQ(f.double_array_attribute(object, "bounds"), (std::vector<double>{-1.5, 2.5}));
  }
  EXPECT_TRUE(f.has_attribute("g/d", "rate"));
  EXPECT_FALSE(f.has_attribute("g/d", "nope"));
  EXPECT_FALSE(f.has_attribute("nowhere", "rate"));

  try {
    f.int_attribute("/", "name");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), file("a.h5") + ": attribute 'name' of '/' is string[11], expected an integer");
  }
  try {
    f.string_attribute("g/h", "missing");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), file("a.h5") + ": attribute 'missing' of 'g/h' missing");
  }
  EXPECT_THROW(f.int_attribute("g/h", "shape"), FileError);  // three values, not one
}

TEST_F(Hdf5FileTest, ReadsSlabsAndConvertsTypes) {
  // An activation log (N, C, H, W) chunked per channel.
  const int64_t n = 6, c = 3, h = 4, w = 5;
  std::vector<float> values(n * c * h * w);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  {
    Hdf5File f = Hdf5File::create(file("a.h5"));
    Hdf5DatasetOptions options;
    options.chunk_shape = {2, 1, h, w};
    f.create_dataset("acts/embedder.block2.res1.resadd_out", Hdf5Type::kFloat32, {c, h, w}, options);
    const std::string name = "acts/embedder.block2.res1.resadd_out";
    f.append(name, values.data(), 2);
    f.append(name, std::vector<float>(values.begin() + 2 * c * h * w, values.end()));
    f.create_dataset("f64", Hdf5Type::kFloat64, {});
    f.append("f64", std::vector<double>{0.1, 2.5, -3});
    f.create_dataset("i32", Hdf5Type::kInt32, {2});
    f.append("i32", std::vector<int32_t>{-7, 8, 1 << 30, 0});
    f.create_dataset("flags", Hdf5Type::kBool, {});
    f.append("flags", std::vector<int64_t>{0, 5, -1, 0});
    f.create_dataset("bytes", Hdf5Type::kUint8, {});
    f.append("bytes", std::vector<uint8_t>{0, 255, 3});
    EXPECT_THROW(f.append("i32", std::vector<int32_t>{1, 2, 3}), FileError);  // not whole rows
    f.close();
  }
  const Hdf5File f = Hdf5File::open(file("a.h5"));
  const std::string name = "/acts/embedder.block2.res1.resadd_out";
  const Hdf5DatasetInfo info = f.dataset_info(name);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{n, c, h, w}));
  EXPECT_EQ(info.dtype, "float32");
  EXPECT_EQ(info.element_class, Hdf5Class::kFloat);
  EXPECT_EQ(f.read<float>(name).data, values);

  const Hdf5Array<float> channel = f.read_slab<float>(name, {0, 1, 0, 0}, {n, 1, h, w});
  EXPECT_EQ(channel.shape, (std::vector<int64_t>{n, 1, h, w}));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < h * w; ++k) EXPECT_EQ(channel.data[i * h * w + k], values[(i * c + 1) * h * w + k]);
  const Hdf5Array<double> rows = f.read_rows<double>(name, 4, 2);
  EXPECT_EQ(rows.shape, (std::vector<int64_t>{2, c, h, w}));
  EXPECT_EQ(rows.data.front(), values[4 * c * h * w]);
  EXPECT_THROW(f.read_rows<float>(name, 5, 2), FileError);

  EXPECT_EQ(f.read<float>("f64").data, (std::vector<float>{0.1f, 2.5f, -3.0f}));
  const Hdf5Array<int64_t> i32 = f.read<int64_t>("i32");
  EXPECT_EQ(i32.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(i32.data, (std::vector<int64_t>{-7, 8, 1 << 30, 0}));
  EXPECT_EQ(f.dataset_info("flags").dtype, "bool");
  EXPECT_EQ(f.dataset_info("flags").element_class, Hdf5Class::kBool);
  EXPECT_EQ(f.read<uint8_t>("flags").data, (std::vector<uint8_t>{0, 1, 1, 0}));
  EXPECT_EQ(f.read<float>("bytes").data, (std::vector<float>{0, 255, 3}));

  // The listing shows the per-channel chunks.
  bool found = false;
  for (const Hdf5Member& m : f.list()) {
    if (m.path != name) continue;
    found = true;
    EXPECT_EQ(m.kind, Hdf5Member::Kind::kDataset);
    EXPECT_EQ(m.depth, 2);
    EXPECT_EQ(m.chunk_shape, (std::vector<int64_t>{2, 1, h, w}));
    EXPECT_EQ(m.filters, "shuffle, gzip 3, fletcher32");
  }
  EXPECT_TRUE(found);
}

TEST_F(Hdf5FileTest, ErrorsNameTheFileAndTheObjectAndPrintNothing) {
  testing::internal::CaptureStderr();
  {
    Hdf5File f = Hdf5File::create(file("x.h5"));
    f.create_dataset("observations", Hdf5Type::kFloat32, {2});
    try {
      f.create_dataset("observations", Hdf5Type::kFloat32, {2});
      FAIL();
    } catch (const FileError& e) {
      EXPECT_EQ(std::string(e.what()), file("x.h5") + ": dataset 'observations' already exists");
    }
    f.close();
    EXPECT_THROW(f.has_dataset("observations"), FileError);  // closed
  }
  const Hdf5File f = Hdf5File::open(file("x.h5"));
  try {
    f.read<float>("rewards");
    FAIL();
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), file("x.h5") + ": dataset 'rewards' missing");
  }
  try {
    Hdf5File& writable = const_cast<Hdf5File&>(f);
    writable.append("observations", std::vector<float>{1, 2});
    FAIL();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Hdf5File::create_new(file("x.h5")), FileError);
  EXPECT_THROW(Hdf5File::create(file("no/such/dir/x.h5")), FileError);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace shardlab
