// Sweeps (experiments/sweep.h): cell names and the grid's product, bad flags, the summary's
// numbers against hand computations, the emitted SLURM script, a 2-cell sweep end to end (killed,
// continued, a cell resumed from its checkpoint), and the same sweep as a job array on a real
// single-node SLURM (scripts/slurm-local.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/error.h"
#include "experiments/sweep.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::read_csv;
using test::run_cli;

using test::kSmoke;
// The smoke spec cut to two updates of a small network: a cell trains and evaluates in seconds.
const std::string kTiny =
    " --set train.total_steps=2048 --set agent.channels=4,8,8 --set agent.hidden=32 --set run.checkpoint_every=1"
    " --episodes 8";

using test::write_file;

std::vector<std::string> names(const std::vector<SweepCell>& cells) {
  std::vector<std::string> out;
  for (const auto& c : cells) out.push_back(c.name);
  return out;
}

TEST(Sweep, CellsAreSeedsTimesTheGridsProductWithReadableNames) {
  const GridAxis lr = parse_grid_flag("train.learning_rate=1e-3,5e-4");
  EXPECT_EQ(lr.key, "train.learning_rate");
  EXPECT_EQ(lr.values, (std::vector<std::string>{"1e-3", "5e-4"}));
  const GridAxis clip = parse_grid_flag("ppo.clip_coef=0.1,0.2,0.3");
  const auto cells = sweep_cells(3, 5, {lr, clip});
  ASSERT_EQ(cells.size(), 12u);  // 2 seeds x 2 x 3
  // Seeds outermost, then the first --grid key slowest.
  EXPECT_EQ(cells[0].name, "learning_rate_1e-3-clip_coef_0.1-s3");
  EXPECT_EQ(cells[1].name, "learning_rate_1e-3-clip_coef_0.2-s3");
  EXPECT_EQ(cells[3].name, "learning_rate_5e-4-clip_coef_0.1-s3");
  EXPECT_EQ(cells[6].name, "learning_rate_1e-3-clip_coef_0.1-s4");
  EXPECT_EQ(cells[11].seed, 4);
  EXPECT_EQ(cells[11].point(), "train.learning_rate=5e-4 ppo.clip_coef=0.3");
  EXPECT_EQ(cells[11].values, (std::vector<std::pair<std::string, std::string>>{{"train.learning_rate", "5e-4"},
                                                                                {"ppo.clip_coef", "0.3"}}));
  // No grid: one cell per seed.
  EXPECT_EQ(names(sweep_cells(0, 3, {})), (std::vector<std::string>{"s0", "s1", "s2"}));
  EXPECT_EQ(sweep_cells(0, 1, {})[0].point(), "all");
  // Values that hold commas are separated by ';' and become '_' in names.
  const GridAxis channels = parse_grid_flag("agent.channels=8,16,16;16,32,32");
  EXPECT_EQ(channels.values, (std::vector<std::string>{"8,16,16", "16,32,32"}));
  EXPECT_EQ(names(sweep_cells(0, 1, {channels})),
            (std::vector<std::string>{"channels_8_16_16-s0", "channels_16_32_32-s0"}));
  // Keys with the same last part keep their sections.
  EXPECT_EQ(sweep_cells(0, 1, {parse_grid_flag("a.x=1"), parse_grid_flag("b.x=2")})[0].name, "a.x_1-b.x_2-s0");
  // Two values that would share a folder are refused.
  EXPECT_THROW(sweep_cells(0, 1, {parse_grid_flag("env.placement=a:b,a_b")}), InputError);
  EXPECT_THROW(parse_grid_flag("train.learning_rate"), InputError);
  EXPECT_THROW(parse_grid_flag("=1,2"), InputError);
  EXPECT_THROW(parse_grid_flag("train.learning_rate=1,,2"), InputError);
  EXPECT_THROW(parse_grid_flag("train.learning_rate=1,1"), InputError);
}

// Bad input in-process (a CLI process spends a second loading libtorch): one InputError line
// naming `needle`. The exit code and the printed line are checked through the binary below.
void expect_refused(const std::string& args, const std::string& needle) {
  std::vector<std::string> argv;
  std::istringstream words(args);
  for (std::string w; words >> w;) argv.push_back(w);
  try {
    cli::cmd_sweep(argv);
    ADD_FAILURE() << "accepted: sweep " << args;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << needle << " not in: " << what;
  }
}

TEST(Sweep, BadFlagsGiveOneLineAndWriteNothing) {
  const std::string dir = test::make_temp_dir();
  const std::string out = dir + "/sweep";
  const std::string ok = kSmoke + " --out " + out;
  expect_refused(ok + " --seeds 3:1", "--seeds '3:1'");
  expect_refused(ok + " --seeds x", "--seeds 'x'");
  expect_refused(ok, "--seeds A:B is required");
  expect_refused(kSmoke + " --seeds 0:2", "--out DIR is required");
  expect_refused(ok + " --seeds 0:2 --grid train.learning_rate", "expected key=value");
  expect_refused(ok + " --seeds 0:2 --grid train.learning_rate=", "without empty values");
  expect_refused(ok + " --seeds 0:2 --grid train.learning_rat=1e-3", "unknown key 'train.learning_rat'");
  expect_refused(ok + " --seeds 0:2 --grid train.learning_rate=fast", "train.learning_rate=fast");
  expect_refused(ok + " --seeds 0:2 --grid run.seed=1,2", "--seeds");
  expect_refused(ok + " --seeds 0:2 --grid ppo.clip_coef=0.1 --grid ppo.clip_coef=0.2", "two --grid");
  expect_refused(ok + " --seeds 0:2 --grid ppo.clip_coef=0.1 --set ppo.clip_coef=0.2", "one place");
  expect_refused(ok + " --seeds 0:2 --set run.name=x", "run.name");
  expect_refused(ok + " --seeds 0:2 --set nonsense.key=1", "nonsense.key");
  expect_refused(ok + " --seeds 0:2 --eval-set env.placement=nowhere", "env.placement");
  expect_refused(ok + " --seeds 0:2 --jobs 0", "--jobs 0");
  expect_refused(ok + " --seeds 0:2 --nproc 0", "--nproc 0");
  expect_refused(ok + " --seeds 0:2 --episodes 0", "--episodes 0");
  expect_refused(ok + " --seeds 0:2 --emit pbs", "--emit slurm");
  expect_refused(ok + " --seeds 0:2 --time 10", "--time goes with --emit slurm");
  expect_refused(ok + " --seeds 0:2 --emit slurm --time 1:2:3:4", "--time '1:2:3:4'");
  expect_refused(ok + " --seeds 0:2 --emit slurm --mem 4X", "--mem '4X'");
  expect_refused(ok + " --seeds 0:2 --emit slurm --sbatch=--array=0-9", "--sbatch");
  expect_refused(ok + " --seeds 0:2 --bogus", "bogus");
  EXPECT_THROW(cli::cmd_sweep({"summarize", dir + "/nothing"}), FileError);  // exit 2 as well
  EXPECT_FALSE(fs::exists(out)) << "a refused sweep wrote its folder";
  // Through the binary: exit code 2 and the one line.
  expect_one_line_error(run_cli("sweep " + ok + " --seeds 0:2 --grid train.learning_rat=1e-3"), "train.learning_rat");
  expect_one_line_error(run_cli("grid cell " + dir + "/nothing runs 0"), "no grid.json");
  EXPECT_FALSE(fs::exists(out));
}

// A sweep folder made without training: DIR/sweep.json of the smoke spec, 4 seeds x 2 values.
SweepPlan planned(const std::string& dir, const std::string& seeds = "0:4") {
  SweepRequest request;
  request.spec = kSmoke;
  request.seeds = seeds;
  request.grid = {"ppo.clip_coef=0.1,0.2"};
  request.out = dir;
  request.command = {"shardlab", "sweep", "(test)"};
  return prepare_sweep(request);
}

void write_eval(const SweepPlan& plan, const SweepCell& cell, double ret, double cheese) {
  fs::create_directories(plan.run_dir(cell));
  write_file(plan.eval_path(cell), nlohmann::json{{"episodes", 8},
                                                  {"mean_return", ret},
                                                  {"mean_length", 10 * ret},
                                                  {"cheese_rate", cheese},
                                                  {"cheese_rate_ci95", {0.0, 1.0}},
                                                  {"checkpoint", "x"}}
                                       .dump());
}

TEST(Sweep, SummaryGivesMeanAndStudentTIntervalPerGridPointAndListsMissingCells) {
  const std::string dir = test::make_temp_dir() + "/sweep";
  const SweepPlan plan = planned(dir);
  ASSERT_EQ(plan.cells.size(), 8u);
  // clip 0.1: returns 1, 2, 3, 6 over seeds 0-3; clip 0.2: 4 and 8 (seeds 0, 1), seeds 2 and 3 unfinished.
  const std::map<std::string, double> returns = {{"clip_coef_0.1-s0", 1}, {"clip_coef_0.1-s1", 2},
                                                 {"clip_coef_0.1-s2", 3}, {"clip_coef_0.1-s3", 6},
                                                 {"clip_coef_0.2-s0", 4}, {"clip_coef_0.2-s1", 8}};
  for (const SweepCell& cell : plan.cells)
    if (returns.count(cell.name)) write_eval(plan, cell, returns.at(cell.name), 0.5);
  const std::string md = summarize_sweep(dir, "mean_return");

  const auto rows = read_csv(dir + "/summary.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{"ppo.clip_coef", "seeds", "missing_seeds", "mean_return", "mean_return_ci95",
                                      "mean_length", "mean_length_ci95", "cheese_rate", "cheese_rate_ci95"}));
  // 1, 2, 3, 6: mean 3, s = sqrt(14 / 3), t(0.975, 3) = 3.182: 3.182 * 2.1602 / 2 = 3.4369.
  EXPECT_EQ(rows[1][0], "0.1");
  EXPECT_EQ(rows[1][1], "0 1 2 3");
  EXPECT_EQ(rows[1][2], "");
  EXPECT_DOUBLE_EQ(std::stod(rows[1][3]), 3.0);
  EXPECT_NEAR(std::stod(rows[1][4]), 3.182 * std::sqrt(14.0 / 3) / 2, 1e-4);
  EXPECT_NEAR(std::stod(rows[1][4]), 3.4369, 1e-3);
  EXPECT_NEAR(std::stod(rows[1][6]), 34.369, 1e-2);  // lengths are 10x the returns
  EXPECT_DOUBLE_EQ(std::stod(rows[1][7]), 0.5);
  EXPECT_DOUBLE_EQ(std::stod(rows[1][8]), 0.0);  // no spread: no interval
  // 4, 8: mean 6, s = 2.828, t(0.975, 1) = 12.706: 12.706 * 2.828 / sqrt(2) = 25.412.
  EXPECT_EQ(rows[2][0], "0.2");
  EXPECT_EQ(rows[2][1], "0 1");
  EXPECT_EQ(rows[2][2], "2 3");
  EXPECT_DOUBLE_EQ(std::stod(rows[2][3]), 6.0);
  EXPECT_NEAR(std::stod(rows[2][4]), 25.412, 1e-3);

  // The same numbers as JSON, for recipes' tables ({sweep/summary.json:rows.0.mean_return}).
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(dir + "/summary.json"));
  ASSERT_EQ(summary["rows"].size(), 2u);
  EXPECT_EQ(summary["rows"][0]["keys"]["ppo.clip_coef"], "0.1");
  EXPECT_EQ(summary["rows"][1]["missing_seeds"], nlohmann::json({"2", "3"}));
  EXPECT_DOUBLE_EQ(summary["rows"][0]["mean_return"].get<double>(), 3.0);
  EXPECT_NEAR(summary["rows"][0]["mean_return_ci95"][0].get<double>(), 3.0 - 3.4369, 1e-3);
  EXPECT_NEAR(summary["rows"][0]["mean_return_ci95"][1].get<double>(), 3.0 + 3.4369, 1e-3);
  EXPECT_NEAR(summary["rows"][1]["mean_return_ci95"][1].get<double>(), 6.0 + 25.412, 1e-3);

  EXPECT_NE(md.find("| 0.1 | 4 | 3.00 ± 3.44 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.2 | 2 (2 missing) | 6.00 ± 25.41 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Missing (not finished): clip_coef_0.2-s2, clip_coef_0.2-s3"), std::string::npos) << md;
  EXPECT_EQ(test::read_file(dir + "/summary.md"), md);
  const std::string svg = test::read_file(dir + "/summary.svg");
  for (const char* text : {"<svg", "mean_return per grid point", ">ppo.clip_coef</text>", ">0.2</text>"})
    EXPECT_NE(svg.find(text), std::string::npos) << text << "\n" << svg;

  // The chart of another metric; an unknown one is refused with the ones there are.
  summarize_sweep(dir, "cheese_rate");
  EXPECT_NE(test::read_file(dir + "/summary.svg").find("cheese_rate per grid point"), std::string::npos);
  expect_one_line_error(run_cli("sweep summarize " + dir + " --metric corner_rate"), "cheese_rate");
  // A damaged eval.json is named, not skipped.
  write_file(plan.eval_path(plan.cells[0]), "{not json");
  expect_one_line_error(run_cli("sweep summarize " + dir), "eval.json: not readable JSON");
}

TEST(Sweep, FolderKeepsItsSpecAndEvalSettingsButMayGrow) {
  const std::string dir = test::make_temp_dir() + "/sweep";
  planned(dir, "0:2");
  // More seeds: the same cells first, then the new ones.
  {
    const SweepPlan grown = planned(dir, "0:3");
    EXPECT_EQ(grown.cells.size(), 6u);
  }  // a prepared plan holds the sweep folder's lock while it lives
  EXPECT_EQ(read_sweep(dir).cells.size(), 6u);
  EXPECT_EQ(read_sweep(dir).cells[0].name, "clip_coef_0.1-s0");
  expect_one_line_error(run_cli("sweep " + kSmoke + " --seeds 0:2 --grid ppo.clip_coef=0.1,0.2 --out " + dir +
                                " --set train.gamma=0.9 --emit slurm"),
                        "different spec (train.gamma");
  expect_one_line_error(run_cli("sweep " + kSmoke + " --seeds 0:2 --grid ppo.clip_coef=0.1,0.2 --out " + dir +
                                " --episodes 7 --emit slurm"),
                        "other eval settings");
}

TEST(Sweep, EmitSlurmWritesAJobArrayWithOneTaskPerCell) {
  const std::string dir = test::make_temp_dir() + "/sweep";
  const auto r = run_cli("sweep " + kSmoke + " --seeds 0:2 --grid ppo.clip_coef=0.1,0.2 --out " + dir +
                         " --emit slurm --time 0:30:00 --mem 2G --cpus-per-task 2 --jobs 3 --sbatch --partition=cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string script = test::read_file(dir + "/runs.sbatch");
  for (const std::string& line : std::vector<std::string>{
           "#SBATCH --array=0-3%3\n", "#SBATCH --ntasks=1\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --time=0:30:00\n",
           "#SBATCH --mem=2G\n", "#SBATCH --partition=cpu\n",
           "#SBATCH --output=" + dir + "/logs/slurm-runs-%A_%a.out\n",
           "exec '" + std::string(SHARDLAB_CLI) + "' grid cell '" + dir + "' runs \"$SLURM_ARRAY_TASK_ID\"\n"})
    EXPECT_NE(script.find(line), std::string::npos) << line << "\n" << script;
  // The summary is a stage of its own, submitted after the cells' array has succeeded.
  EXPECT_NE(test::read_file(dir + "/summary.sbatch").find("grid cell '" + dir + "' summary"), std::string::npos);
  const std::string submit = test::read_file(dir + "/submit.sh");
  EXPECT_LT(submit.find("runs.sbatch"), submit.find("summary.sbatch")) << submit;
  EXPECT_NE(submit.find("--dependency=afterok:$job"), std::string::npos) << submit;
  EXPECT_NE(r.out.find("bash " + dir + "/submit.sh"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sweep summarize " + dir), std::string::npos) << r.out;
  EXPECT_TRUE(fs::is_directory(dir + "/logs"));              // SLURM writes its output files there
  EXPECT_FALSE(fs::exists(dir + "/runs/clip_coef_0.1-s0"));  // nothing ran
  const auto sweep = nlohmann::json::parse(test::read_file(dir + "/sweep.json"));
  ASSERT_EQ(sweep["cells"].size(), 4u);
  EXPECT_EQ(sweep["cells"][3]["name"], "clip_coef_0.2-s1");
  EXPECT_EQ(sweep["command"][1], "sweep");

  // Data-parallel cells: one array task of 2 SLURM tasks each; CPUs per rank from run.threads.
  const std::string dp = test::make_temp_dir() + "/dp";
  ASSERT_EQ(run_cli("sweep " + kSmoke + " --seeds 0:2 --nproc 2 --out " + dp + " --emit slurm").exit_code, 0);
  const std::string dp_script = test::read_file(dp + "/runs.sbatch");
  for (const char* line : {"#SBATCH --array=0-1\n", "#SBATCH --ntasks=2\n", "#SBATCH --cpus-per-task=1\n"})
    EXPECT_NE(dp_script.find(line), std::string::npos) << line << "\n" << dp_script;
  // Inside an allocation the cell's ranks start through srun, without --nproc; here through --nproc.
  const SweepPlan plan = read_sweep(dp);
  setenv("SLURM_CPUS_PER_TASK", "3", 1);
  const Grid grid = sweep_grid(plan);
  const auto srun = cell_processes(grid, grid.stages[0].cells[0], "/x/shardlab", RankLauncher::kSrun);
  unsetenv("SLURM_CPUS_PER_TASK");
  ASSERT_EQ(srun.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(srun[0].argv.begin(), srun[0].argv.begin() + 6),
            (std::vector<std::string>{"srun", "--ntasks=2", "--kill-on-bad-exit=1", "--cpus-per-task=3", "/x/shardlab",
                                      "train"}));
  EXPECT_EQ(std::count(srun[0].argv.begin(), srun[0].argv.end(), "--nproc"), 0);
  EXPECT_EQ(srun[1].argv[1], "eval");
  EXPECT_EQ(srun[1].after, 0);
  const auto local = cell_processes(grid, grid.stages[0].cells[0], "/x/shardlab", RankLauncher::kLocal);
  EXPECT_EQ(local[0].argv[0], "/x/shardlab");
  EXPECT_EQ(std::count(local[0].argv.begin(), local[0].argv.end(), "--nproc"), 1);
}

// Reads the cells' names that have eval.json.
std::vector<std::string> finished_cells(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir + "/runs"))
    if (fs::exists(e.path() / "eval.json")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SweepRun, KilledSweepContinuesWithoutRerunningFinishedCellsAndResumesStartedOnes) {
  const std::string dir = test::make_temp_dir() + "/sweep";
  const std::string args = "sweep " + kSmoke + " --seeds 0:2 --grid ppo.clip_coef=0.15 --out " + dir + kTiny;
  // Kill the sweep (and its cells) once the first cell has finished.
  const auto killed = test::run_shell(
      "( setsid " + std::string(SHARDLAB_CLI) + " " + args + " --jobs 1 & pid=$!; for i in $(seq 1200); do ls " + dir +
      "/runs/*/eval.json >/dev/null 2>&1 && break; sleep 0.1; done; kill -9 -$pid; wait $pid; "
      "echo killed=$? )");
  ASSERT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  const auto first = finished_cells(dir);
  ASSERT_EQ(first, (std::vector<std::string>{"clip_coef_0.15-s0"}));
  const auto stamp = fs::last_write_time(dir + "/runs/clip_coef_0.15-s0/eval.json");

  const auto again = run_cli(args + " --jobs 2");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("2 cells (1 grid points x seeds 0:2)"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("1 of 2 cells finished"), std::string::npos) << again.err;
  EXPECT_EQ(fs::last_write_time(dir + "/runs/clip_coef_0.15-s0/eval.json"), stamp);  // not rerun
  EXPECT_EQ(finished_cells(dir), (std::vector<std::string>{"clip_coef_0.15-s0", "clip_coef_0.15-s1"}));
  for (const char* cell : {"clip_coef_0.15-s0", "clip_coef_0.15-s1"}) {
    const auto run = nlohmann::json::parse(test::read_file(dir + "/runs/" + cell + "/run.json"));
    EXPECT_EQ(run["seed"], cell[std::strlen(cell) - 1] - '0') << cell;
    const auto eval = nlohmann::json::parse(test::read_file(dir + "/runs/" + cell + "/eval.json"));
    EXPECT_EQ(eval["episodes"], 8) << cell;
    EXPECT_TRUE(fs::exists(dir + "/logs/" + cell + ".log")) << cell;
  }
  EXPECT_NE(test::read_file(dir + "/runs/clip_coef_0.15-s1/spec.ini").find("clip_coef = 0.15"), std::string::npos);
  const auto rows = read_csv(dir + "/summary.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], "0.15");
  EXPECT_EQ(rows[1][1], "0 1");
  EXPECT_NE(again.out.find("Every cell finished."), std::string::npos) << again.out;

  // A cell whose run folder exists without eval.json resumes its training from its checkpoint.
  fs::remove(dir + "/runs/clip_coef_0.15-s1/eval.json");
  const auto resumed = run_cli(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("1 of 2 cells finished; started but not finished"), std::string::npos) << resumed.err;
  const auto history = nlohmann::json::parse(test::read_file(dir + "/runs/clip_coef_0.15-s1/run.json"))["history"];
  EXPECT_EQ(history.back()["event"], "resume");
  EXPECT_EQ(history.back()["update"], 2);  // the last checkpoint: nothing trained twice
  EXPECT_EQ(read_csv(dir + "/runs/clip_coef_0.15-s1/metrics.csv").size(), 3u);  // header + 2 updates
  EXPECT_TRUE(fs::exists(dir + "/runs/clip_coef_0.15-s1/eval.json"));
  // Everything finished: `grid cell` does nothing, and `grid status` says so.
  const auto cell = run_cli("grid cell " + dir + " runs 1");
  EXPECT_EQ(cell.exit_code, 0) << cell.err;
  EXPECT_NE(cell.err.find("finished already"), std::string::npos) << cell.err;
  expect_one_line_error(run_cli("grid cell " + dir + " runs 2"), "expected an index 0..1");
  expect_one_line_error(run_cli("grid cell " + dir + " train 0"), "no stage 'train'");
  const auto status = run_cli("grid status " + dir);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "2 of 2 cells finished\n");
}

}  // namespace
}  // namespace shardlab
