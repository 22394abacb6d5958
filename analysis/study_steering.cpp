// `shardlab analyze cheese-vector` and `top-right-vector`: steering with a vector, P(cheese | decision square) before
// and after.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agents/checkpoint.h"
#include "analysis/pictures.h"
#include "analysis/report_json.h"
#include "analysis/steering.h"
#include "analysis/study.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/statistics.h"
#include "core/text.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

// ---- what the study writes

namespace {

std::string steering_csv(const std::vector<SteeringRow>& rows) {
  std::ostringstream out;
  out << "seed,maze_dim,decision_x,decision_y,cheese_x,cheese_y,vector_norm,p_cheese,p_cheese_steered,"
         "p_cheese_random,p_top_right,p_top_right_steered,p_top_right_random\n";
  for (const auto& r : rows)
    out << r.seed << ',' << r.maze_dim << ',' << r.decision_square.x << ',' << r.decision_square.y << ',' << r.cheese.x
        << ',' << r.cheese.y << ',' << r.vector_norm << ',' << r.p_cheese << ',' << r.p_cheese_steered << ','
        << r.p_cheese_random << ',' << r.p_top_right << ',' << r.p_top_right_steered << ',' << r.p_top_right_random
        << '\n';
  return out.str();
}

std::string steering_summary_json(const MazePolicy& policy, const std::string& seeds, const SteeringStudy& study,
                                  const SteeringSummary& m, int64_t mazes_left_out, const MazeCounts& counts) {
  Json j = summary_header(study.vector == SteeringVector::kCheese ? "cheese-vector" : "top-right-vector",
                          policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = study.layer;
  j["vector"] = study.vector == SteeringVector::kCheese ? "cheese" : "top_right";
  j["coeff"] = number(study.coeff);
  if (study.compose_coeff) j["compose_coeff"] = number(*study.compose_coeff);
  if (study.transfer_from) j["transfer_from"] = *study.transfer_from;
  j["mazes"] = m.mazes;
  j["mazes_left_out"] = mazes_left_out;
  j["median_p_cheese"] = number(m.median_p_cheese);
  j["median_p_cheese_steered"] = number(m.median_p_cheese_steered);
  j["median_p_cheese_random"] = number(m.median_p_cheese_random);
  j["median_p_top_right"] = number(m.median_p_top_right);
  j["median_p_top_right_steered"] = number(m.median_p_top_right_steered);
  j["median_p_top_right_random"] = number(m.median_p_top_right_random);
  j["p_cheese_rose"] = m.cheese_rose;
  j["p_cheese_fell"] = m.cheese_fell;
  j["max_p_cheese_rise"] = number(m.max_cheese_rise);
  j["p_top_right_rose"] = m.top_right_rose;
  j["p_top_right_fell"] = m.top_right_fell;
  return dump(j);
}

}  // namespace

namespace {

int steering_study(const std::string& name, SteeringVector vector, const std::vector<std::string>& args,
                   const SpecSchema& schema) {
  const bool cheese = vector == SteeringVector::kCheese;
  StudyFlags f("shardlab analyze " + name + " RUN --seeds A:B [--layer L] [--coeff C] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layer", po::value<std::string>(), (std::string("layer to steer (default ") + kDefaultLayer + ")").c_str())(
      "coeff", po::value<double>()->default_value(cheese ? -1.0 : 1.0), "coefficient of the vector")(
      "transfer-from", po::value<int64_t>(), "use the vector of this maze seed on every maze")(
      cheese ? "compose-top-right" : "compose-cheese", po::value<double>(),
      "also add the other vector with this coefficient")("seed", po::value<int64_t>()->default_value(0),
                                                         "seed of the random control vectors")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study(schema, name, args, f, true);
  if (!s) return 0;
  SteeringStudy study;
  study.layer = layer_of(*s);
  study.vector = vector;
  study.coeff = s->bounded("coeff");
  const std::string compose = cheese ? "compose-top-right" : "compose-cheese";
  if (s->has(compose)) study.compose_coeff = s->bounded(compose);
  if (s->has("transfer-from")) {
    const int64_t t = s->vm["transfer-from"].as<int64_t>();
    if (t < 0 || t >= 2147483647) throw InputError("--transfer-from " + std::to_string(t) + ": not a level seed");
    study.transfer_from = static_cast<uint32_t>(t);
  }
  study.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  const std::string stem = cheese ? "cheese_vector" : "top_right_vector";
  s->claim({stem + ".csv", stem + "_summary.json"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  int64_t skipped = 0;
  const auto rows = run_steering(s->p(), levels, study, &skipped);
  if (rows.empty()) throw InputError("--seeds " + s->str("seeds") + ": no maze with a decision square in that range");
  counts.used = static_cast<int64_t>(rows.size());
  const int64_t no_square = without_decision_square(levels);
  counts.other_left_out.push_back({"without_decision_square", no_square});
  if (skipped > no_square) counts.other_left_out.push_back({"no_room_for_top_right_corridor", skipped - no_square});
  const SteeringSummary m = summarize(rows);
  write_file((fs::path(s->out_dir) / (stem + ".csv")).string(), steering_csv(rows));
  const std::string json = steering_summary_json(s->p(), s->str("seeds"), study, m, skipped, counts);
  write_file((fs::path(s->out_dir) / (stem + "_summary.json")).string(), json);
  std::cout << json;
  return 0;
}

}  // namespace

int cheese_vector_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  return steering_study("cheese-vector", SteeringVector::kCheese, args, schema);
}

int top_right_vector_study(const std::vector<std::string>& args, const SpecSchema& schema) {
  return steering_study("top-right-vector", SteeringVector::kTopRight, args, schema);
}

}  // namespace shardlab::analysis
