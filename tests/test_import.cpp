// `shardlab import procgen-tools`: files saved by Python torch (Debian's python3-torch) from
// procgen-tools' own network classes (tests/procgen_tools_model.py) load in every form, give the
// same logits and values as in Python, and every broken file is one error line with nothing written.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agents/checkpoint.h"
#include "agents/procgen_import.h"
#include "agents/run_dir.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/spec.h"
#include "core/text.h"
#include "experiments/schema.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {
namespace fs = std::filesystem;

constexpr const char* kScript = SHARDLAB_SOURCE_DIR "/tests/procgen_tools_model.py";

// Spec keys every import here adds: the folder of Procgen's assets the procgen_rgb observation reads.
std::vector<std::string> import_sets() {
  return {"env.procgen_assets=" + test::shared_dir() + "/testdata/procgen_assets"};
}
std::string import_set_flags() {
  std::string flags;
  for (const std::string& s : import_sets()) flags += " --set " + s;
  return flags;
}

// Runs tests/procgen_tools_model.py into a fresh folder and returns it.
std::string python_files(const std::string& args) {
  const std::string dir = test::make_temp_dir();
  const auto r = test::run_shell("/usr/bin/python3 " + std::string(kScript) + " " + dir + " " + args);
  EXPECT_EQ(r.exit_code, 0) << "tests/procgen_tools_model.py needs Debian's python3-torch: " << r.out << r.err;
  return dir;
}

std::vector<float> read_floats(const std::string& path) {
  const std::string bytes = test::read_file(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

ProcgenImportResult import_file(const std::string& file, const std::string& out) {
  ProcgenImportOptions options;
  options.out = out;
  options.overrides = import_sets();
  return import_procgen_tools(file, options, shardlab_schema());
}

TEST(ProcgenImport, WrappedUpstreamAndBareFormsGiveTorchsLogits) {
  const std::string dir = python_files("--channels 8,16,16 --frames 6");
  const std::vector<float> frames = read_floats(dir + "/frames.f32");
  const std::vector<float> logits = read_floats(dir + "/logits.f32");
  const std::vector<float> values = read_floats(dir + "/values.f32");
  ASSERT_EQ(frames.size(), 6u * 3 * 64 * 64);
  ASSERT_EQ(logits.size(), 6u * 15);
  const at::Tensor want_logits = torch::from_blob(const_cast<float*>(logits.data()), {6, 15});
  const at::Tensor want_values = torch::from_blob(const_cast<float*>(values.data()), {6});
  ASSERT_GT(want_logits.abs().max().item<float>(), 0.05f);  // a disagreement anywhere would show
  for (const std::string form : {"wrapped", "upstream", "bare"}) {
    SCOPED_TRACE(form);
    const std::string file = dir + "/" + form + ".pth";
    const std::string out = dir + "/run_" + form;
    const ProcgenImportResult r = import_file(file, out);
    EXPECT_EQ(r.form, form == "wrapped" ? "model_state_dict" : form == "upstream" ? "state_dict" : "bare");
    EXPECT_EQ(r.channels, (std::vector<int64_t>{8, 16, 16}));
    EXPECT_EQ(r.hidden, 256);
    EXPECT_EQ(r.checkpoint, out + "/checkpoints/update_0000000.pt");
    // The run folder as `eval` and `analyze` read it, and where the weights came from.
    LoadedPolicy policy = load_policy(resolve_checkpoint(out), shardlab_schema());
    const Spec spec = Spec::from_text(shardlab_schema(), test::read_file(out + "/spec.ini"), "spec.ini", {});
    EXPECT_EQ(spec.get_string("env.observation"), "procgen_rgb");
    EXPECT_EQ(spec.get_string("env.distribution"), "hard");
    EXPECT_EQ(spec.get_string("env.actions"), "procgen");
    EXPECT_EQ(spec.get_string("env.placement"), "uniform");
    EXPECT_EQ(spec.get_string("agent.channels"), "8,16,16");
    EXPECT_FALSE(policy.normalize_observations);
    const auto run = nlohmann::json::parse(test::read_file(out + "/run.json"));
    const std::string bytes = test::read_file(file);
    EXPECT_EQ(run["imported_from"]["sha256"], sha256_hex(bytes.data(), bytes.size()));
    EXPECT_EQ(run["imported_from"]["path"], fs::absolute(file).string());
    EXPECT_EQ(run["imported_from"]["form"], r.form);

    torch::NoGradGuard no_grad;
    const PolicyOutput got = policy.net->forward(policy.prepare(frames.data(), 6));
    const double logit_error = (got.logits_or_mean - want_logits).abs().max().item<double>();
    const double value_error = (got.value - want_values).abs().max().item<double>();
    std::cout << "[ import ] " << form << ": max |logit difference| " << logit_error << ", max |value difference| "
              << value_error << "\n";
    EXPECT_LE(logit_error, 1e-5);
    EXPECT_LE(value_error, 1e-5);
  }
}

TEST(ProcgenImport, InfersThePublishedWidths) {
  const std::string dir = python_files("--channels 64,128,128 --frames 0 --forms bare");
  const std::string out = dir + "/run";
  const ProcgenImportResult r = import_file(dir + "/bare.pth", out);
  EXPECT_EQ(r.channels, (std::vector<int64_t>{64, 128, 128}));
  EXPECT_EQ(r.parameters, 3'653'136);  // procgen-tools' maze network: about 3.65M parameters
  const Spec spec = Spec::from_text(shardlab_schema(), test::read_file(out + "/spec.ini"), "spec.ini", {});
  EXPECT_EQ(spec.get_string("agent.channels"), "64,128,128");
  EXPECT_EQ(spec.get_int("agent.hidden"), 256);
}

TEST(ProcgenImport, BrokenFilesAreOneLineAndWriteNothing) {
  const std::string dir = python_files("--channels 4,8,8 --frames 0 --forms wrapped --bad");
  std::ofstream(dir + "/text.pth") << "not a torch file\n";
  std::ofstream(dir + "/zip.pth") << std::string("PK\x03\x04", 4) << "truncated zip";
  std::ofstream(dir + "/other.zip.pth");
  test::run_shell("cd " + dir +
                  " && /usr/bin/python3 -c \"import zipfile; zipfile.ZipFile('plain.pth','w')"
                  ".writestr('a/b.txt','hello')\"");
  test::run_shell("/usr/bin/python3 -c \"import torch; torch.save({'model_state_dict': [1, 2]}, '" + dir +
                  "/list.pth'); torch.save({'epoch': 3}, '" + dir + "/noweights.pth')\"");
  const struct {
    std::string file, needle;
  } cases[] = {
      {"missing.pth", "missing.pth: no tensor 'embedder.block2.res1.conv2.bias'"},
      {"unexpected.pth", "unexpected.pth: unexpected tensor 'embedder.fc2.weight' (3, 3)"},
      {"wrong_shape.pth", "wrong_shape.pth: tensor 'fc_value.weight' has shape (1, 255), expected (1, 256)"},
      {"legacy.pth", "legacy.pth: saved in torch's format before 1.6"},
      {"text.pth", "text.pth: not a torch.save file (not a zip archive)"},
      {"zip.pth", "zip.pth: not a readable torch.save file"},
      {"plain.pth", "plain.pth: a zip file, but not one torch.save wrote"},
      {"list.pth", "list.pth: its 'model_state_dict' is a GenericList, not a dict of tensors"},
      {"noweights.pth", "noweights.pth: no state dict in it"},
      {"absent.pth", "absent.pth: no such file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string out = dir + "/out_" + c.file;
    test::expect_one_line_error(
        test::run_cli("import procgen-tools " + dir + "/" + c.file + " --out " + out + import_set_flags()), c.needle);
    EXPECT_FALSE(fs::exists(out));
  }
  // The library says the same with the error types the command line turns into exit code 2.
  EXPECT_THROW(import_file(dir + "/missing.pth", dir + "/lib"), FileError);
  EXPECT_FALSE(fs::exists(dir + "/lib"));
  // Flags.
  test::expect_one_line_error(test::run_cli("import procgen-tools " + dir + "/wrapped.pth"), "--out RUN_DIR");
  test::expect_one_line_error(test::run_cli("import openai " + dir + "/wrapped.pth --out " + dir + "/o"),
                              "import procgen-tools FILE.pth");
  EXPECT_FALSE(fs::exists(dir + "/o"));
  const auto help = test::run_cli("import --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("procgen_rgb"), std::string::npos);
}

TEST(ProcgenImport, ExistingOutNeedsForceAndForceReplacesOnlyAnImport) {
  const std::string dir = python_files("--channels 4,8,8 --frames 0 --forms wrapped,bare");
  const std::string out = dir + "/run";
  const std::string import = "import procgen-tools " + dir + "/wrapped.pth --out " + out + import_set_flags();
  auto r = test::run_cli(import);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model_state_dict, widths 4,8,8"), std::string::npos) << r.out;
  const std::string first = test::read_file(out + "/run.json");
  test::expect_one_line_error(test::run_cli(import), out + " exists; pass --force");
  EXPECT_EQ(test::read_file(out + "/run.json"), first);
  // --force replaces an earlier import (here with the bare form of the same weights), and keeps
  // what the user added to its folder (hardening round two, case 2).
  fs::create_directories(out + "/analysis");
  std::ofstream(out + "/analysis/cheese_vector.json") << "{\"mine\": 1}\n";
  std::ofstream(out + "/eval.json") << "{\"mine\": 2}\n";
  r = test::run_cli("import procgen-tools " + dir + "/bare.pth --out " + out + " --force" + import_set_flags());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(test::read_file(out + "/run.json"))["imported_from"]["form"], "bare");
  EXPECT_EQ(test::read_file(out + "/analysis/cheese_vector.json"), "{\"mine\": 1}\n");
  EXPECT_EQ(test::read_file(out + "/eval.json"), "{\"mine\": 2}\n");
  EXPECT_NE(r.err.find("kept 2 other entries"), std::string::npos) << r.err;
  // ... but never a folder that holds something else, nor a file.
  fs::create_directories(dir + "/other");
  std::ofstream(dir + "/other/notes.txt") << "mine\n";
  test::expect_one_line_error(
      test::run_cli("import procgen-tools " + dir + "/bare.pth --force --out " + dir + "/other" + import_set_flags()),
      "--force replaces only an earlier import");
  EXPECT_FALSE(fs::exists(dir + "/other/run.json"));
  test::expect_one_line_error(test::run_cli("import procgen-tools " + dir + "/bare.pth --force --out " + dir +
                                            "/other/notes.txt" + import_set_flags()),
                              "not a folder");
  EXPECT_EQ(test::read_file(dir + "/other/notes.txt"), "mine\n");
}

// Every file under `dir` by its path relative to `dir`, with its bytes.
std::map<std::string, std::string> folder_contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = test::read_file(e.path().string());
  return out;
}

std::vector<std::string> names_beside(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ProcgenImport, ForceThatFailsPartWayLeavesTheEarlierImportAsItWas) {
  const std::string dir = python_files("--channels 4,8,8 --frames 0 --forms wrapped,bare");
  const std::string out = dir + "/runs/run";
  fs::create_directories(dir + "/runs");
  import_file(dir + "/wrapped.pth", out);
  const auto before = folder_contents(out);
  ASSERT_EQ(before.size(), 3u);  // the checkpoint, spec.ini, run.json
  // The new import fails after each file it writes in turn: the new checkpoint is never seen
  // under the old spec, and nothing of the attempt is left beside the run.
  for (const std::string fail_after : {"update_0000000.pt", "spec.ini", "run.json"}) {
    SCOPED_TRACE(fail_after);
    ProcgenImportOptions options;
    options.out = out;
    options.force = true;
    options.overrides = import_sets();
    std::vector<std::string> seen;
    options.after_file_written = [&](const std::string& file) {
      seen.push_back(file);
      EXPECT_EQ(file.rfind(out + ".tmp.", 0), 0u) << file;  // written beside the run, not in it
      if (ends_with(file, fail_after)) throw FileError(file + ": disk full (test)");
    };
    EXPECT_THROW(import_procgen_tools(dir + "/bare.pth", options, shardlab_schema()), FileError);
    EXPECT_FALSE(seen.empty());
    EXPECT_EQ(folder_contents(out), before);
    EXPECT_EQ(names_beside(dir + "/runs"), std::vector<std::string>{"run"});
  }
  // Temporary folders a killed import left are removed by the next import once their process is
  // gone (pid 2^22 + 1 is above Linux's pid_max, so never alive); the import then replaces the run.
  const std::string stale = out + ".tmp.4194305";
  fs::create_directories(stale + "/checkpoints");
  std::ofstream(stale + "/spec.ini") << "[env]\n";
  ProcgenImportOptions options;
  options.out = out;
  options.force = true;
  options.overrides = import_sets();
  import_procgen_tools(dir + "/bare.pth", options, shardlab_schema());
  EXPECT_EQ(names_beside(dir + "/runs"), std::vector<std::string>{"run"});
  EXPECT_EQ(nlohmann::json::parse(test::read_file(out + "/run.json"))["imported_from"]["form"], "bare");
  EXPECT_EQ(folder_contents(out).size(), 3u);
}

TEST(ProcgenImport, AssetsAreStoredAbsoluteAndEvalRunsFromAnotherFolder) {
  const std::string dir = python_files("--channels 4,8,8 --frames 0 --forms wrapped");
  // The assets given relative to the working directory at import time.
  fs::create_directories(dir + "/work");
  fs::copy(test::shared_dir() + "/testdata/procgen_assets", dir + "/work/assets", fs::copy_options::recursive);
  auto r = test::run_shell("cd " + dir + "/work && " + SHARDLAB_CLI + " import procgen-tools ../wrapped.pth --out ../run" +
                           " --set env.procgen_assets=assets");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Spec spec = Spec::from_text(shardlab_schema(), test::read_file(dir + "/run/spec.ini"), "spec.ini", {});
  const std::string assets = spec.get_string("env.procgen_assets");
  EXPECT_TRUE(fs::path(assets).is_absolute()) << assets;
  EXPECT_TRUE(fs::equivalent(assets, dir + "/work/assets")) << assets;
  // Nothing else is made absolute: the run's name is still the folder's.
  EXPECT_EQ(spec.get_string("run.name"), "run");
  fs::create_directories(dir + "/elsewhere");
  r = test::run_shell("cd " + dir + "/elsewhere && " + SHARDLAB_CLI + " eval ../run --episodes 2 --set env.num_envs=2 --out e.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(ProcgenImport, ImportedRunIsEvaluatedRenderedAndAnalysed) {
  const std::string dir = python_files("--channels 4,8,8 --frames 0 --forms wrapped");
  const std::string out = dir + "/run";
  auto r = test::run_cli("import procgen-tools " + dir + "/wrapped.pth --out " + out + import_set_flags());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("eval " + out + " --episodes 4 --set env.num_envs=4 --out " + dir + "/eval.json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("render --run " + out + " --seed 3 --every 100 --out " + dir + "/frames");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = test::run_cli("analyze cheese-vector " + out + " --seeds 0:4 --out " + dir + "/analysis");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace shardlab
