// Experience files (core/experience_file.h): round trips, crash safety of the writer and the
// summary `inspect` prints (h5py, files that are not experience files and the HDF5 layer under
// them: tests/test_experience_file_hdf5.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/experience_file.h"
#include "tests/experience_file_fixture.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;

using test::action_spec;
using test::ExperienceFileTest;
using test::info_names_of;
using test::make_experience;
using test::small_observation_spec;
using test::TempDirTest;
using test::write_experience;

void expect_same_experience(const Experience& a, const Experience& b) {
  EXPECT_EQ(a.observation_spec.shape, b.observation_spec.shape);
  EXPECT_EQ(a.observation_spec.low, b.observation_spec.low);
  EXPECT_EQ(a.observation_spec.high, b.observation_spec.high);
  EXPECT_EQ(a.action_spec.discrete, b.action_spec.discrete);
  EXPECT_EQ(a.action_spec.num_actions, b.action_spec.num_actions);
  EXPECT_EQ(a.action_spec.dim, b.action_spec.dim);
  if (!a.action_spec.discrete) {
    EXPECT_EQ(a.action_spec.low, b.action_spec.low);
    EXPECT_EQ(a.action_spec.high, b.action_spec.high);
  }
  EXPECT_EQ(a.observations, b.observations);
  EXPECT_EQ(a.next_observations, b.next_observations);
  EXPECT_EQ(a.discrete_actions, b.discrete_actions);
  EXPECT_EQ(a.continuous_actions, b.continuous_actions);
  EXPECT_EQ(a.rewards, b.rewards);
  EXPECT_EQ(a.terminals, b.terminals);
  EXPECT_EQ(a.timeouts, b.timeouts);
  EXPECT_EQ(a.infos, b.infos);
}

// ---------------------------------------------------------------------------------------------
// Round trips

struct RoundTripCase {
  bool discrete, next_observations, infos;
};

class ExperienceFileRoundTrip : public TempDirTest, public ::testing::WithParamInterface<RoundTripCase> {};

TEST_P(ExperienceFileRoundTrip, ReadsBackWhatWasWritten) {
  const RoundTripCase c = GetParam();
  const Experience written = make_experience(c.discrete, c.next_observations, c.infos, 37);
  write_experience(file("x.h5"), written);
  EXPECT_EQ(entries(), std::vector<std::string>{"x.h5"});
  expect_same_experience(read_experience(file("x.h5")), written);
}

INSTANTIATE_TEST_SUITE_P(AllColumns, ExperienceFileRoundTrip,
                         ::testing::Values(RoundTripCase{true, false, false}, RoundTripCase{true, true, true},
                                           RoundTripCase{true, false, true}, RoundTripCase{false, false, false},
                                           RoundTripCase{false, true, false}, RoundTripCase{false, true, true}),
                         [](const auto& info) {
                           return std::string(info.param.discrete ? "Discrete" : "Continuous") +
                                  (info.param.next_observations ? "WithNext" : "") +
                                  (info.param.infos ? "WithInfos" : "");
                         });

TEST_F(ExperienceFileTest, EmptyFileRoundTrips) {
  Experience empty = make_experience(true, false, false, 0);
  write_experience(file("empty.h5"), empty);
  const Experience read = read_experience(file("empty.h5"));
  EXPECT_EQ(read.size(), 0u);
  EXPECT_EQ(read.observation_spec.shape, empty.observation_spec.shape);
  EXPECT_EQ(read.action_spec.num_actions, 5);
}

TEST_F(ExperienceFileTest, AppendingInBatchesEqualsOneBatch) {
  const Experience all = make_experience(true, true, true, 100);
  write_experience(file("one.h5"), all);

  ExperienceWriter writer(file("many.h5"), all.observation_spec, all.action_spec, true, info_names_of(all), {}, false);
  const size_t cuts[] = {0, 5, 5, 37, 99, 100};
  for (size_t k = 0; k + 1 < std::size(cuts); ++k) {
    Experience batch;
    batch.observation_spec = all.observation_spec;
    batch.action_spec = all.action_spec;
    for (const auto& [name, column] : all.infos) batch.infos[name];
    batch.append(all, cuts[k], cuts[k + 1]);
    writer.append(batch);
  }
  EXPECT_EQ(writer.rows(), 100);
  writer.close();
  expect_same_experience(read_experience(file("many.h5")), read_experience(file("one.h5")));
}

TEST_F(ExperienceFileTest, AppendRejectsBatchesThatDoNotMatchTheFile) {
  const Experience e = make_experience(true, false, true, 8);
  ExperienceWriter writer(file("x.h5"), e.observation_spec, e.action_spec, false, info_names_of(e), {}, false);
  Experience wrong_shape = e;
  wrong_shape.observation_spec.shape = {3, 2};
  EXPECT_THROW(writer.append(wrong_shape), InputError);
  Experience with_next = make_experience(true, true, true, 8);
  EXPECT_THROW(writer.append(with_next), InputError);
  Experience no_infos = make_experience(true, false, false, 8);
  EXPECT_THROW(writer.append(no_infos), InputError);
  Experience bad_action = e;
  bad_action.discrete_actions[3] = 5;
  EXPECT_THROW(writer.append(bad_action), InputError);
  Experience inconsistent = e;
  inconsistent.rewards.pop_back();
  EXPECT_THROW(writer.append(inconsistent), InputError);
  // None of the rejected batches wrote anything.
  writer.append(e);
  writer.close();
  expect_same_experience(read_experience(file("x.h5")), e);
}

// ---------------------------------------------------------------------------------------------
// Crash safety

TEST_F(ExperienceFileTest, RefusesToOverwriteWithoutForce) {
  const Experience first = make_experience(true, false, false, 20);
  write_experience(file("x.h5"), first);
  const std::string before = test::read_file(file("x.h5"));
  ASSERT_FALSE(before.empty());

  const Experience second = make_experience(false, false, false, 10);
  try {
    ExperienceWriter writer(file("x.h5"), second.observation_spec, second.action_spec, false, {}, {}, false);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), file("x.h5") + " exists; pass --force to overwrite");
  }
  EXPECT_EQ(test::read_file(file("x.h5")), before);
  EXPECT_EQ(entries(), std::vector<std::string>{"x.h5"});
  try {
    ExperienceWriter writer(file("no/x.h5"), second.observation_spec, second.action_spec, false, {}, {}, false);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), file("no/x.h5") + ": folder '" + file("no") + "' does not exist");
  }

  // With overwrite, the old file stays as it was until close() succeeds.
  ExperienceWriter writer(file("x.h5"), second.observation_spec, second.action_spec, false, {}, {}, true);
  writer.append(second);
  EXPECT_EQ(test::read_file(file("x.h5")), before);
  writer.close();
  expect_same_experience(read_experience(file("x.h5")), second);
  EXPECT_EQ(entries(), std::vector<std::string>{"x.h5"});
}

TEST_F(ExperienceFileTest, WriterDestroyedWithoutCloseLeavesNoFile) {
  const Experience e = make_experience(true, true, true, 50);
  {
    ExperienceWriter writer(file("x.h5"), e.observation_spec, e.action_spec, true, info_names_of(e), {}, false);
    writer.append(e);
    EXPECT_EQ(fs::path(writer.temporary_path()).parent_path(), fs::path(dir_));
    EXPECT_EQ(writer.temporary_path().rfind(file("x.h5") + ".tmp.", 0), 0u) << writer.temporary_path();
    EXPECT_TRUE(fs::exists(writer.temporary_path()));
    EXPECT_FALSE(fs::exists(file("x.h5")));
  }
  EXPECT_TRUE(entries().empty());

  // The same with an existing file at the final path: it is left untouched.
  write_experience(file("x.h5"), e);
  const std::string before = test::read_file(file("x.h5"));
  {
    const Experience other = make_experience(false, false, false, 5);
    ExperienceWriter writer(file("x.h5"), other.observation_spec, other.action_spec, false, {}, {}, true);
    writer.append(other);
  }
  EXPECT_EQ(entries(), std::vector<std::string>{"x.h5"});
  EXPECT_EQ(test::read_file(file("x.h5")), before);
}

// A child process appends, then is killed with SIGKILL before close(): no file may appear under
// the final name, and a file already there must be untouched.
void kill_writer_midway(const std::string& path, bool overwrite) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    try {
      const Experience e = make_experience(true, true, true, 3000);
      ExperienceWriter writer(path, e.observation_spec, e.action_spec, true, info_names_of(e), {}, overwrite);
      writer.append(e);
      writer.append(e);
      const char byte = 'x';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
      while (true) ::pause();
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(ready[1]);
  char byte = 0;
  const ssize_t got = ::read(ready[0], &byte, 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(got, 1) << "the child failed before appending (status " << status << ")";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The killed child's temporary is all that is left of it.
  const std::string temporary = path + ".tmp." + std::to_string(child);
  EXPECT_TRUE(fs::exists(temporary));
  fs::remove(temporary);
}

TEST_F(ExperienceFileTest, KilledWriterLeavesNoFileUnderTheFinalName) {
  kill_writer_midway(file("x.h5"), false);
  EXPECT_TRUE(entries().empty());

  const Experience e = make_experience(false, false, false, 12);
  write_experience(file("x.h5"), e);
  const std::string before = test::read_file(file("x.h5"));
  kill_writer_midway(file("x.h5"), true);
  EXPECT_EQ(entries(), std::vector<std::string>{"x.h5"});
  EXPECT_EQ(test::read_file(file("x.h5")), before);
  expect_same_experience(read_experience(file("x.h5")), e);
}

// ---------------------------------------------------------------------------------------------
// inspect

TEST_F(ExperienceFileTest, DescribeSummarisesEpisodes) {
  Experience e;
  e.observation_spec = small_observation_spec();
  e.action_spec = action_spec(true);
  // Four finished episodes, the last both terminal and timed out (counts as terminated), then an
  // unfinished one of two rows.
  e.rewards = {1, 0, 2, 0.5, 0.5, 0, 0, 0, 4, -1, 7, 7};
  e.terminals = {0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0};
  e.timeouts = {0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0};
  e.discrete_actions.assign(e.rewards.size(), 2);
  e.observations.assign(e.rewards.size() * 6, 0.0f);
  write_experience(file("x.h5"), e);

  const std::vector<double> returns = {3, 1, 4, -1};
  const std::vector<double> lengths = {3, 2, 4, 1};
  double mean = 0, variance = 0;
  for (double r : returns) mean += r / returns.size();
  for (double r : returns) variance += (r - mean) * (r - mean) / returns.size();

  const ExperienceSummary s = summarize_experience(e.rewards, e.terminals, e.timeouts);
  EXPECT_EQ(s.transitions, 12);
  EXPECT_EQ(s.episodes, 4);
  EXPECT_EQ(s.terminated, 3);
  EXPECT_EQ(s.timed_out, 1);
  EXPECT_EQ(s.unfinished_length, 2);
  EXPECT_DOUBLE_EQ(s.return_mean, mean);
  EXPECT_NEAR(s.return_std, std::sqrt(variance), 1e-12);
  EXPECT_EQ(s.return_min, -1);
  EXPECT_EQ(s.return_max, 4);
  EXPECT_DOUBLE_EQ(s.length_mean, 2.5);
  EXPECT_EQ(s.length_min, 1);
  EXPECT_EQ(s.length_max, 4);

  const std::string text = describe_h5(file("x.h5"));
  EXPECT_NE(text.find("experience: 12 transitions"), std::string::npos) << text;
  EXPECT_NE(text.find("episodes: 4 finished (3 terminated, 1 timed out), 1 unfinished (2 transitions"),
            std::string::npos)
      << text;
  std::smatch m;
  const std::string number = "(-?[0-9.e+-]+)";
  ASSERT_TRUE(std::regex_search(text, m,
                                std::regex("return \\(finished episodes\\): mean " + number + " std " + number +
                                           " min " + number + " max " + number)))
      << text;
  EXPECT_NEAR(std::stod(m[1]), mean, 1e-5);
  EXPECT_NEAR(std::stod(m[2]), std::sqrt(variance), 1e-5);
  EXPECT_NEAR(std::stod(m[3]), -1, 1e-9);
  EXPECT_NEAR(std::stod(m[4]), 4, 1e-9);
  EXPECT_NE(text.find("length (finished episodes): mean 2.5 min 1 max 4"), std::string::npos) << text;
  // The listing itself: datasets with shape and dtype, metadata attributes with values.
  EXPECT_NE(text.find("dataset (12, 2, 3) float32"), std::string::npos) << text;
  EXPECT_NE(text.find("dataset (12,) bool"), std::string::npos) << text;
  EXPECT_NE(text.find("@env = \"maze:size=25\""), std::string::npos) << text;
  EXPECT_NE(text.find("@observation_shape = [2, 3]"), std::string::npos) << text;
}

}  // namespace
}  // namespace shardlab
