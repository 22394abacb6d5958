// The survival-instinct grid's controls and evidence (experiments/ablation.h): the
// terminals-to-timeouts copy, the cells of the control, the per-learner overrides and the beta
// stage as grid.json holds them, the beta choice from result files, the summary's outcome rates
// with their intervals, and bad keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/experience_file.h"
#include "core/spec.h"
#include "experiments/ablation.h"
#include "experiments/ablation_plan.h"
#include "experiments/schema.h"
#include "offline/dataset.h"
#include "tests/test_util.h"

namespace shardlab {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using test::expect_one_line_error;
using test::read_file;
using test::run_cli;

// Ten rows of 3-dim observations, 2-dim actions; terminals at rows 2 and 8, a timeout at row 5.
std::string write_episodes(const std::string& path,
                           const std::map<std::string, std::string>& metadata = {{"policy", "hand-made"}}) {
  Experience e;
  e.observation_spec.shape = {3};
  e.observation_spec.low = -100;
  e.observation_spec.high = 100;
  e.action_spec.discrete = false;
  e.action_spec.dim = 2;
  for (int i = 0; i < 10; ++i) {
    for (float d : {0.0f, 0.25f, 0.5f}) e.observations.push_back(i + d);
    e.continuous_actions.push_back(0.1f * i);
    e.continuous_actions.push_back(-0.1f * i);
    e.rewards.push_back(static_cast<float>(i));
    e.terminals.push_back(i == 2 || i == 8);
    e.timeouts.push_back(i == 5);
  }
  ExperienceWriter w(path, e.observation_spec, e.action_spec, false, {}, metadata, true);
  w.append(e);
  w.close();
  return path;
}

TEST(Relabel, TerminalsBecomeTimeoutsRowByRowAndTheCopySaysSo) {
  const std::string dir = test::make_temp_dir();
  const std::string in = write_episodes(dir + "/in.h5"), out = dir + "/noterm.h5";
  const auto r = run_cli("relabel " + in + " " + out + " --terminals timeout");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("every terminal turned into a timeout"), std::string::npos) << r.out;
  const Experience original = read_experience(in), copy = read_experience(out);
  ASSERT_EQ(copy.size(), original.size());
  for (size_t i = 0; i < copy.size(); ++i) {
    EXPECT_EQ(copy.terminals[i], 0) << "row " << i;
    // The episode still ends where it ended: at the old terminals and the old timeout.
    EXPECT_EQ(copy.timeouts[i], original.terminals[i] || original.timeouts[i] ? 1 : 0) << "row " << i;
  }
  EXPECT_EQ(copy.rewards, original.rewards);
  EXPECT_EQ(copy.observations, original.observations);
  EXPECT_EQ(copy.continuous_actions, original.continuous_actions);
  const ExperienceReader reader(out);
  EXPECT_EQ(reader.metadata().at("policy"), "hand-made");
  EXPECT_EQ(reader.metadata().at("terminals_turned_to_timeouts"), "2");
  EXPECT_NE(reader.metadata().at("terminals_relabel").find("timeout"), std::string::npos);
  EXPECT_EQ(reader.metadata().at("relabeled_from"), in);
  // Learners see no terminal, and the rows that ended early are not bootstrapped across into the
  // next episode: without stored next observations they are left out (rows 2, 5, 8, and 9 whose
  // episode is unfinished), where the original keeps 2 and 8 as terminal transitions.
  const OfflineDataset a = OfflineDataset::load(in, RewardLabel::kTrue, 0);
  const OfflineDataset b = OfflineDataset::load(out, RewardLabel::kTrue, 0);
  EXPECT_EQ(a.transitions(), 8);
  EXPECT_EQ(b.transitions(), 6);
  at::Generator gen = at::detail::createCPUGenerator(1);
  const Transitions batch = b.sample(256, gen, at::kCPU);
  EXPECT_EQ(batch.terminals.sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(batch.next_observations, batch.observations + 1));

  // Both at once: zero rewards and no terminals.
  ASSERT_EQ(run_cli("relabel " + in + " " + dir + "/both.h5 --reward zero --terminals timeout").exit_code, 0);
  EXPECT_EQ(read_experience(dir + "/both.h5").rewards, std::vector<float>(10, 0.0f));
  expect_one_line_error(run_cli("relabel " + in + " " + dir + "/x.h5"), "--terminals timeout");
  expect_one_line_error(run_cli("relabel " + in + " " + dir + "/x.h5 --terminals never"), "'never'");
  EXPECT_FALSE(fs::exists(dir + "/x.h5"));
}

// A grid spec on `dir`: the walker or lander, ATAC and IQL, the control, the beta stage.
std::string grid_spec(const std::string& dir, const std::string& task) {
  const std::string spec = dir + "/grid.ini";
  std::ofstream(spec) << "[ablate]\nout = " << dir << "/grid\ntasks = " << task
                      << "\ndatasets = medium-replay\nalgos = atac,iql\nrewards = true,zero\nrewards_algo_iql = true\n"
                      << "seeds = 0:2\nnoterm_algos = atac\nnoterm_rewards = true\natac_betas = 0.25,4\n"
                      << "beta_seeds = 100:101\noverrides_" << task << " = agent.torso=mlp;agent.hidden=32\n"
                      << "overrides_algo_iql = agent.policy_head=gaussian;agent.hidden=16\n"
                      << "[dataset]\nruns = " << dir << "/experts\n";
  return spec;
}

Json prepare(const std::string& spec, const std::vector<std::string>& overrides = {}) {
  {
    const AblationGrid prepared = prepare_ablation(Spec::load(shardlab_schema(), spec, overrides), spec);
  }  // the grid's lock is let go
  const std::string dir = fs::path(spec).parent_path().string() + "/grid";
  return Json::parse(read_file(dir + "/grid.json"));
}

std::vector<std::string> argv_of(const Json& cell, size_t step = 0) {
  return cell["steps"][step]["argv"].get<std::vector<std::string>>();
}

bool has_pair(const std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && argv[i + 1] == value) return true;
  return false;
}

TEST(AblationGrid, ControlOverridesAndBetaStageAreCellsOfGridJson) {
  const std::string dir = test::make_temp_dir(), root = dir + "/grid";
  const Json grid = prepare(grid_spec(dir, "lunar_lander_continuous"));
  std::vector<std::string> stages;
  for (const auto& s : grid["stages"]) stages.push_back(s["name"]);
  ASSERT_EQ(stages, (std::vector<std::string>{"datasets", "runs", "choose", "atac", "summary"}));
  const std::string data = root + "/datasets/lunar_lander_continuous-medium-replay.h5";
  const std::string copy = root + "/datasets/lunar_lander_continuous-medium-replay-noterm.h5";

  // The datasets cell makes the data, then its no-termination copy; both are its outputs.
  const Json& datasets = grid["stages"][0]["cells"][0];
  ASSERT_EQ(datasets["steps"].size(), 2u);
  EXPECT_EQ(argv_of(datasets, 1),
            (std::vector<std::string>{"shardlab", "relabel", data, copy, "--terminals", "timeout", "--force"}));
  EXPECT_EQ(datasets["outputs"], Json::array({data, copy}));

  // Runs: the beta candidates (true-reward ATAC on the selection seed), then IQL true (its only
  // label) with the learner's overrides after the task's, then BC; no reported ATAC cell.
  std::vector<std::string> runs;
  for (const auto& c : grid["stages"][1]["cells"]) runs.push_back(c["name"]);
  EXPECT_EQ(runs, (std::vector<std::string>{"lunar_lander_continuous-medium-replay-atac-true-beta0.25-s100",
                                            "lunar_lander_continuous-medium-replay-atac-true-beta4-s100",
                                            "lunar_lander_continuous-medium-replay-iql-true-s0",
                                            "lunar_lander_continuous-medium-replay-bc-true-s0",
                                            "lunar_lander_continuous-medium-replay-iql-true-s1",
                                            "lunar_lander_continuous-medium-replay-bc-true-s1"}));
  const auto candidate = argv_of(grid["stages"][1]["cells"][1]);
  EXPECT_TRUE(has_pair(candidate, "--set", "atac.beta=4"));
  EXPECT_TRUE(has_pair(candidate, "--set", "run.seed=100"));
  EXPECT_TRUE(has_pair(candidate, "--set", "offline.reward=true"));
  const auto iql = argv_of(grid["stages"][1]["cells"][2]);
  const auto task_hidden = std::find(iql.begin(), iql.end(), "agent.hidden=32");
  const auto algo_hidden = std::find(iql.begin(), iql.end(), "agent.hidden=16");
  ASSERT_NE(algo_hidden, iql.end());
  EXPECT_LT(task_hidden, algo_hidden);  // the learner's override applies last
  EXPECT_TRUE(has_pair(iql, "--set", "agent.policy_head=gaussian"));
  EXPECT_FALSE(has_pair(argv_of(grid["stages"][1]["cells"][3]), "--set", "agent.policy_head=gaussian"));  // BC
  for (const auto& c : grid["stages"][1]["cells"]) EXPECT_EQ(c["needs"], 0);

  // Choose: one cell per dataset after the whole runs stage, writing the choice and its value.
  const Json& choose = grid["stages"][2]["cells"][0];
  EXPECT_EQ(argv_of(choose), (std::vector<std::string>{"shardlab", "ablate", "choose-beta", root,
                                                       "lunar_lander_continuous", "medium-replay"}));
  const std::string value = root + "/choices/lunar_lander_continuous-medium-replay-beta.txt";
  EXPECT_EQ(choose["outputs"][1], value);
  EXPECT_EQ(choose["needs"], -1);

  // ATAC: every label and the control beside true, each reading its dataset's choice at start.
  std::vector<std::string> atac;
  for (const auto& c : grid["stages"][3]["cells"]) {
    atac.push_back(c["name"]);
    EXPECT_TRUE(has_pair(argv_of(c), "--set-from", "atac.beta=" + value)) << c["name"];
    EXPECT_EQ(c["needs"], 0);
  }
  EXPECT_EQ(atac, (std::vector<std::string>{"lunar_lander_continuous-medium-replay-atac-true-s0",
                                            "lunar_lander_continuous-medium-replay-noterm-atac-true-s0",
                                            "lunar_lander_continuous-medium-replay-atac-zero-s0",
                                            "lunar_lander_continuous-medium-replay-atac-true-s1",
                                            "lunar_lander_continuous-medium-replay-noterm-atac-true-s1",
                                            "lunar_lander_continuous-medium-replay-atac-zero-s1"}));
  EXPECT_TRUE(has_pair(argv_of(grid["stages"][3]["cells"][1]), "--set", "offline.dataset=" + copy));

  // Without candidates or a control: the three stages, ATAC in runs with the spec's beta.
  const Json plain = prepare(grid_spec(dir, "lunar_lander_continuous"),
                             {"ablate.atac_betas=", "ablate.noterm_algos=", "ablate.noterm_rewards="});
  ASSERT_EQ(plain["stages"].size(), 3u);
  EXPECT_EQ(plain["stages"][0]["cells"][0]["steps"].size(), 1u);
  EXPECT_EQ(plain["stages"][1]["cells"].size(), 8u);  // 2 seeds x (atac true, zero, iql true, bc)
  for (const auto& c : plain["stages"][1]["cells"])
    for (const std::string& word : argv_of(c)) EXPECT_EQ(word.find("atac.beta"), std::string::npos) << word;
}

// A fake finished run: result.json with an evaluation.
void write_result(const std::string& root, const std::string& cell, const Json& evaluation, const Json& extra = {}) {
  fs::create_directories(root + "/runs/" + cell);
  Json j = {{"algo", "atac"}, {"evaluation", evaluation}};
  if (extra.is_object()) j.update(extra);
  test::write_file(root + "/runs/" + cell + "/result.json", j.dump());
}

TEST(AblationBeta, BestMeanWinsATieGoesToTheSmallerAndAMissingCandidateStopsIt) {
  const std::string dir = test::make_temp_dir(), root = dir + "/grid";
  prepare(grid_spec(dir, "lunar_lander_continuous"), {"ablate.atac_betas=4,0.25,1", "ablate.beta_seeds=100:102"});
  const std::string cell = "lunar_lander_continuous-medium-replay-atac-true-beta";
  const std::map<std::string, std::vector<double>> scores = {{"0.25", {10, 20}}, {"1", {30, 40}}, {"4", {40, 30}}};
  for (const auto& [beta, s] : scores)
    for (int i = 0; i < 2; ++i)
      write_result(root, cell + beta + "-s" + std::to_string(100 + i), {{"normalized_score", s[i]}});
  const std::string choose = "ablate choose-beta " + root + " lunar_lander_continuous medium-replay";
  const auto r = run_cli(choose);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("atac.beta = 1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tied with 4"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(root + "/choices/lunar_lander_continuous-medium-replay-beta.txt"), "1\n");
  const Json choice = Json::parse(read_file(root + "/choices/lunar_lander_continuous-medium-replay-beta.json"));
  EXPECT_EQ(choice["chosen_text"], "1");
  EXPECT_EQ(choice["tied_with"], Json::array({"4"}));
  EXPECT_EQ(choice["selection_seeds"], "100:102");
  ASSERT_EQ(choice["candidates"].size(), 3u);
  EXPECT_EQ(choice["candidates"][1]["beta_text"], "0.25");
  EXPECT_EQ(choice["candidates"][1]["normalized_scores"], Json::array({10.0, 20.0}));
  EXPECT_DOUBLE_EQ(choice["candidates"][1]["mean"].get<double>(), 15.0);

  // A clear winner.
  write_result(root, cell + "4-s101", {{"normalized_score", 31}});
  ASSERT_EQ(run_cli(choose).exit_code, 0);
  EXPECT_EQ(read_file(root + "/choices/lunar_lander_continuous-medium-replay-beta.txt"), "4\n");

  // A candidate without a result, or without a score: one line naming it, nothing chosen.
  fs::remove_all(root + "/choices");
  fs::remove(root + "/runs/" + cell + "0.25-s101/result.json");
  expect_one_line_error(run_cli(choose), "candidate beta 0.25 seed 101 has no result");
  write_result(root, cell + "0.25-s101", {{"normalized_score", nullptr}});
  expect_one_line_error(run_cli(choose), "has no normalized score");
  EXPECT_FALSE(fs::exists(root + "/choices"));
  expect_one_line_error(run_cli("ablate choose-beta " + root + " maze medium-replay"), "not a task and dataset");
  expect_one_line_error(run_cli("ablate choose-beta " + root), "expected ROOT TASK QUALITY");
  // An offline run whose --set-from file is absent or not one value.
  const std::string offline = "offline --set offline.dataset=" + dir + "/absent.h5 --set-from atac.beta=" + dir;
  expect_one_line_error(run_cli(offline + "/none.txt"), "no file " + dir + "/none.txt");
  test::write_file(dir + "/two.txt", "1\n4\n");
  expect_one_line_error(run_cli(offline + "/two.txt"), "should hold one line");
  test::write_file(dir + "/bad.txt", "many\n");
  expect_one_line_error(run_cli(offline + "/bad.txt"), "atac.beta");
  test::write_file(dir + "/good.txt", "4\n");
  expect_one_line_error(run_cli(offline + "/good.txt"), "absent.h5");  // the value was taken; the data is absent
}

// Fake results of the walker's grid: scores, its four outcome rates and the actor's KL.
Json walker_evaluation(double score, double finished, double fell) {
  return {{"episodes", 50},
          {"normalized_score", score},
          {"mean_return", score},
          {"finished_rate", finished},
          {"fell_rate", fell},
          {"out_of_bounds_rate", 0.0},
          {"timeout_rate", 1.0 - finished - fell}};
}

// The row of ROOT/ablation.csv whose learner is `learner`, by column name (empty when absent).
std::map<std::string, std::string> ablation_csv_row(const std::string& root, const std::string& learner) {
  const auto csv = test::read_csv(root + "/ablation.csv");
  for (const auto& row : csv)
    if (row.size() > 2 && row[2] == learner) {
      std::map<std::string, std::string> named;
      for (size_t i = 0; i < row.size() && i < csv[0].size(); ++i) named[csv[0][i]] = row[i];
      return named;
    }
  return {};
}

TEST(AblationSummary, ScoresRatesAndKlWithIntervalsOverSeeds) {
  const std::string dir = test::make_temp_dir(), root = dir + "/grid";
  prepare(grid_spec(dir, "bipedal_walker"), {"ablate.algos=atac"});
  const std::string w = "bipedal_walker-medium-replay-";
  write_result(root, w + "atac-true-beta0.25-s100", {{"normalized_score", 50}});
  write_result(root, w + "atac-true-beta4-s100", {{"normalized_score", 60}});
  ASSERT_EQ(run_cli("ablate choose-beta " + root + " bipedal_walker medium-replay").exit_code, 0);
  for (int s = 0; s < 2; ++s) {
    const std::string seed = "-s" + std::to_string(s);
    write_result(root, w + "atac-true" + seed, walker_evaluation(40 + 10 * s, 0.5, 0.2 + 0.2 * s),
                 {{"actor_kl_from_warm_start", 0.1 + 0.2 * s}});
    write_result(root, w + "noterm-atac-true" + seed, walker_evaluation(20, 0.2, 0.6 + 0.2 * s),
                 s == 0 ? Json{{"actor_kl_from_warm_start", 0.5}} : Json{});
    write_result(root, w + "bc-true" + seed, walker_evaluation(10 + 2 * s, 0.1, 0.5));
  }
  write_result(root, w + "atac-zero-s0", walker_evaluation(30, 0.0, 0.1));  // atac zero s1 unfinished
  const auto r = run_cli("ablate summarize " + root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string md = read_file(root + "/ablation.md");
  for (const char* text :
       {// The paper's table: the chosen beta, BC, each label with its control beside it.
        "| dataset | ATAC beta | behavior | BC | atac true | atac true noterm | atac zero |",
        "| bipedal_walker-medium-replay | 4 | — | 11.0 ± 12.7 | 45.0 ± 63.5 | 20.0 ± 0.0 | 30.0 |",
        // The walker's outcomes: each seed's rate, mean ± Student-t interval over seeds; KL where recorded.
        "| dataset | learner | seeds | score | finished | fell | out of bounds | timeout | actor KL from warm start |",
        "| medium-replay | atac true | 2 | 45.0 ± 63.5 | 0.50 ± 0.00 | 0.30 ± 1.27 | 0.00 ± 0.00 | 0.20 ± 1.27 | "
        "0.20 ± 1.27 |",
        "| medium-replay | atac true noterm | 2 | 20.0 ± 0.0 | 0.20 ± 0.00 | 0.70 ± 1.27 | 0.00 ± 0.00 | 0.10 ± "
        "1.27 | 0.50 |",
        "| medium-replay | BC | 2 | 11.0 ± 12.7 | 0.10 ± 0.00 | 0.50 ± 0.00 | 0.00 ± 0.00 | 0.40 ± 0.00 | — |",
        "| medium-replay | atac zero | 1 (1 missing) | 30.0 |", "Each seed's rate over its 50 evaluation episodes",
        "Student t", "beta = 4 chosen on seeds 100:101", "| **4** | 60.0 | 1 |", "no-early-termination copy",
        "bipedal_walker-medium-replay: not made yet",
        "Missing (not finished): bipedal_walker-medium-replay-atac-zero-s1"})
    EXPECT_NE(md.find(text), std::string::npos) << text << "\n" << md;
  // ablation.csv: per task, dataset and learner, each number's mean and interval.
  const auto atac = ablation_csv_row(root, "atac true");
  ASSERT_FALSE(atac.empty());
  EXPECT_EQ(atac.at("fell_rate"), "0.3");
  EXPECT_EQ(atac.at("fell_rate_ci95"), "1.2706");
  EXPECT_EQ(atac.at("actor_kl_from_warm_start"), "0.2");
  const auto cells = test::read_csv(root + "/cells.csv");
  EXPECT_EQ(cells.size(), 8u);  // a header and 7 finished cells
  EXPECT_NE(read_file(root + "/cells.csv").find("noterm"), std::string::npos);
  const std::string svg = read_file(root + "/ablation.svg");
  EXPECT_NE(svg.find("bipedal_walker: outcome rates"), std::string::npos);
  EXPECT_NE(svg.find("Normalized score by learner"), std::string::npos);
}

// A replay dataset's behaviour rates: its training run's episodes up to the replay's last step,
// each metrics.csv row's rate weighted by its episode count (rows after the replay left out).
TEST(AblationSummary, TheBehaviourPolicysRatesAreTheReplayRunsEpisodes) {
  const std::string dir = test::make_temp_dir(), root = dir + "/grid";
  prepare(grid_spec(dir, "bipedal_walker"), {"ablate.algos=atac"});
  fs::create_directories(dir + "/expert");
  std::ofstream(dir + "/expert/metrics.csv")
      << "global_step,charts/episodes,charts/finished_rate,charts/fell_rate,charts/out_of_bounds_rate,"
         "charts/timeout_rate\n"
         "100,2,0,0.5,0,0.5\n"
         "200,8,0,1,0,0\n"
         "250,0,nan,nan,nan,nan\n"
         "300,10,1,0,0,0\n";
  const std::string data = ablation_dataset_path(root, "bipedal_walker", "medium-replay", false);
  fs::create_directories(fs::path(data).parent_path());
  write_episodes(data, {{"source_run", dir + "/expert"}, {"replay_steps", "200"}});
  const auto r = run_cli("ablate summarize " + root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto behaviour = ablation_csv_row(root, "behavior");
  ASSERT_FALSE(behaviour.empty());
  EXPECT_EQ(behaviour.at("fell_rate"), "0.9");  // (2 x 0.5 + 8 x 1) / 10
  EXPECT_EQ(behaviour.at("timeout_rate"), "0.1");
  EXPECT_EQ(behaviour.at("finished_rate"), "0");  // the row at 300 is after the replay
  const std::string md = read_file(root + "/ablation.md");
  EXPECT_NE(md.find("| 0.00 | 0.90 | 0.00 | 0.10 |"), std::string::npos) << md;
}

TEST(AblationGrid, BadKeysGiveOneLineAndWriteNothing) {
  const std::string dir = test::make_temp_dir();
  const std::string spec = grid_spec(dir, "lunar_lander_continuous");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--set ablate.noterm_algos=sac", "'sac' is not in ablate.algos"},
      {"--set ablate.noterm_rewards=", "give both"},
      {"--set ablate.noterm_rewards=negative", "'negative' is not in ablate.rewards"},
      {"--set ablate.rewards_algo_iql=random", "'random' is not in ablate.rewards"},
      {"--set ablate.atac_betas=1,abc", "abc"},
      {"--set ablate.atac_betas=1,4,1", "'1' is given twice"},
      {"--set ablate.atac_betas=-1", "atac.beta"},
      {"--set ablate.beta_seeds=1:3", "overlaps ablate.seeds"},
      {"--set ablate.algos=iql --set ablate.noterm_algos= --set ablate.noterm_rewards=", "ATAC is not in ablate.algos"},
      {"--set ablate.algos=atac,bc", "bc is added by ablate.bc"},
      {"--set ablate.overrides_algo_iql=agent.nope=1", "agent.nope"},
      {"--set ablate.overrides_algo_bc=agent.hidden", "expected KEY=VALUE"},
      {"--set ablate.overrides_algo_atac=atac.beta=2", "remove one"},
  };
  for (const auto& [flags, needle] : cases) expect_one_line_error(run_cli("ablate " + spec + " " + flags), needle);
  EXPECT_FALSE(fs::exists(dir + "/grid"));
  EXPECT_FALSE(fs::exists(dir + "/experts"));
}

// The paper-scale spec as SLURM job arrays: every stage, its array as large as its cells, written
// without training anything.
TEST(AblationGrid, FullSpecEmitsEveryStageAsAJobArray) {
  const std::string dir = test::make_temp_dir();
  const auto r = run_cli("ablate " + std::string(SHARDLAB_SOURCE_DIR) + "/experiments/survival_instinct_full.ini" +
                         " --set ablate.out=" + dir + "/full --set dataset.runs=" + dir +
                         "/experts --emit slurm --time 2-00:00:00 --mem 4G");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json grid = Json::parse(read_file(dir + "/full/grid.json"));
  for (const auto& stage : grid["stages"]) {
    const std::string sbatch = read_file(dir + "/full/" + stage["name"].get<std::string>() + ".sbatch");
    EXPECT_NE(sbatch.find("#SBATCH --array=0-" + std::to_string(stage["cells"].size() - 1) + "\n"), std::string::npos)
        << sbatch;
  }
  ASSERT_EQ(grid["stages"].size(), 5u);
  EXPECT_EQ(grid["stages"][2]["cells"].size(), 6u);  // a beta choice per task and dataset
  EXPECT_NE(read_file(dir + "/full/submit.sh").find("choose.sbatch"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/experts"));
}

}  // namespace
}  // namespace shardlab
