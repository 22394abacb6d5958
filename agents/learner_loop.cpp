#include "agents/learner_loop.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/rng.h"

namespace shardlab {
namespace {

// The learner's metrics as the ranks' mean (one all-reduce; a metric a rank lacks stays absent).
void merge_over_ranks(std::map<std::string, double>& row, const std::vector<std::string>& metrics,
                      const Collective& ranks) {
  std::vector<double> values;
  for (const std::string& m : metrics) values.push_back(row.count(m) ? row[m] : std::nan(""));
  ranks.sum(values);
  for (size_t i = 0; i < metrics.size(); ++i)
    if (row.count(metrics[i])) row[metrics[i]] = values[i] / static_cast<double>(ranks.world_size());
}

// One row: the learner's updates on the source's batches, its metrics averaged over them.
std::map<std::string, double> learn_row(int64_t updates, int64_t& step, Learner& learner, BatchSource& source,
                                        at::Generator& gen) {
  std::map<std::string, double> sums;
  double learn_s = 0;
  learner.policy()->train();
  for (int64_t i = 0; i < updates; ++i) {
    const Batch batch = source.next(learner, gen);
    const auto start = std::chrono::steady_clock::now();
    for (const auto& [name, value] : learner.update(batch, ++step, gen)) sums[name] += value;
    learn_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  for (auto& [name, sum] : sums) sum /= static_cast<double>(std::max<int64_t>(updates, 1));
  sums["time/update_s"] = learn_s;
  return sums;
}

}  // namespace

void run_learner(TrainingRun& run, Learner& learner, BatchSource& source) {
  const Collective& ranks = run.ranks();
  const uint64_t stream = mix_seed(run.config().seed, source.generator_stream());
  at::Generator gen = at::detail::createCPUGenerator(stream);
  Checkpoint& checkpoint = run.checkpoint();
  learner.add_parts(checkpoint);
  checkpoint.add(source.generator_part(), gen);
  source.add_parts(checkpoint);
  run.restore();
  // Each rank samples from its own stream (rank 0 keeps the saved one).
  if (!ranks.leader()) gen.set_current_seed(mix_seed(mix_seed(stream, ranks.rank()), run.update()));
  std::vector<std::string> columns = {"global_step", "update", "time_s", "charts/SPS"};
  for (const std::string& c : source.columns(learner.metrics())) columns.push_back(c);
  run.start(columns, source.facts());
  source.start(run);

  const int64_t rows = source.rows();
  const int64_t per_update = source.steps_per_update();
  int64_t total_steps = 0;
  for (int64_t r = 1; r <= rows; ++r) total_steps += source.updates_in_row(r) * per_update;
  const std::vector<std::string> metrics = learner.metrics();
  int64_t global_step = run.global_step();
  int64_t step = global_step / per_update;  // the learner's updates so far
  for (int64_t row = run.update() + 1; row <= rows; ++row) {
    const int64_t updates = source.updates_in_row(row);
    std::map<std::string, double> values;
    try {
      values = learn_row(updates, step, learner, source, gen);
    } catch (const NonFiniteLoss& e) {
      source.finish();
      if (!ranks.leader()) throw;
      const auto last_good = run.dir().newest_checkpoint();
      throw NonFiniteLoss(
          "training stopped at update " + std::to_string(row) + ": " + e.what() +
          (last_good ? "; the last good checkpoint is " + *last_good : "; no checkpoint was written before it"));
    }
    global_step += updates * per_update;
    if (ranks.distributed()) merge_over_ranks(values, metrics, ranks);
    const std::string progress = source.finish_row(row, learner, values, ranks);
    values["charts/SPS"] = run.steps_per_second(global_step);
    run.finish_update(row, global_step, std::move(values), total_steps, progress, row == rows);
  }
  source.finish();
}

}  // namespace shardlab
