// `shardlab analyze ...`: the studies of ../shared/reference/studies.md on a trained maze policy.
// Flags and files only: the studies and their reports are in analysis/ (study_reports.h).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "agents/checkpoint.h"
#include "agents/evaluate.h"
#include "analysis/activation_log.h"
#include "analysis/behaviour.h"
#include "analysis/channels.h"
#include "analysis/maze_policy.h"
#include "analysis/pushes.h"
#include "analysis/retarget.h"
#include "analysis/steering.h"
#include "analysis/steering_compare.h"
#include "analysis/study_reports.h"
#include "analysis/vector_field.h"
#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "media/figure.h"
#include "core/statistics.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::cli {
namespace {

namespace fs = std::filesystem;
using namespace shardlab::analysis;

constexpr const char* kDefaultLayer = "embedder.block2.res1.resadd_out";

constexpr const char* kUsage = R"(usage: shardlab analyze STUDY RUN_DIR|CHECKPOINT [flags]

studies (each takes --help):
  record             record activations on a range of mazes into an HDF5 activation log
  cheese-vector      steer with the cheese vector: P(cheese | decision square) before and after
  top-right-vector   steer with the top-right vector (optionally composed with the cheese vector)
  vector-field       draw the policy's arrows on every free cell, original / patched / difference
  channels           rank a layer's channels by how well they track the cheese
  resample           zero / mean / resample a channel set vs random sets of the same size
  retarget           remove the cheese, set channels at a target, measure the path probability
  behaviour          logistic regression of "gets the cheese" on decision-square features
  steering-compare   per-maze cheese vector vs mean difference vs probe direction, same norm, several coefficients
  layer-sweep        the per-maze and mean-difference cheese vectors at every layer: which steers best
  pushes             each channel's push toward the cheese or the top-right path at the decision square
  milestones         over a run's milestone checkpoints: when behaviour and cheese structure appear

Mazes come from the run's own spec with env.placement=uniform unless --set says otherwise;
mazes outside the run's env.min_maze_size..env.max_maze_size are left out, and every summary counts them
("maze_counts"). Results go to --out (default RUN_DIR/analysis/).

behaviour, resample and retarget measure published quantities and take --protocol reference|ours
(default reference): the reference's protocol as procgen-tools runs it, or our earlier variant.
)";

// What every study shares: the policy, the seed range and the output folder.
struct StudyFlags {
  po::options_description flags;
  po::positional_options_description positional;
  explicit StudyFlags(const std::string& usage) : flags(usage) {
    flags.add_options()("help,h", "show this help")("run", po::value<std::string>(), "run folder or checkpoint file")(
        "set", po::value<std::vector<std::string>>()->composing(),
        "override a key of the run's spec (env.* keys), e.g. --set env.placement=uniform")(
        "force", "overwrite outputs that exist already");
    positional.add("run", 1);
  }
};

struct Study {
  std::optional<MazePolicy> policy;
  po::variables_map vm;
  std::string out_dir;

  const MazePolicy& p() const { return *policy; }
  // The study's output files, named before it runs: kept unless --force (core/atomic_file.h).
  void claim(const std::vector<std::string>& names) const {
    std::vector<std::string> paths;
    for (const auto& name : names) paths.push_back(out_dir.empty() ? name : (fs::path(out_dir) / name).string());
    claim_outputs(paths, has("force"));
  }
  std::string str(const std::string& k) const { return vm[k].as<std::string>(); }
  bool has(const std::string& k) const { return vm.count(k) > 0; }
  // A coefficient or activation value: finite and at most `limit` in size, so that the edited
  // activations and the policy's outputs stay finite (1e308 would make every result NaN).
  double bounded(const std::string& k, double limit = kLargestEdit) const { return bounded_number(vm[k].as<double>(), "--" + k, limit); }
  static constexpr double kLargestEdit = 1e4;
  static double bounded_number(double v, const std::string& flag, double limit) {
    if (!std::isfinite(v) || std::fabs(v) > limit) {
      char text[64];
      std::snprintf(text, sizeof text, "%g", v);
      throw InputError(flag + " " + text + ": expected a number between -" + std::to_string(static_cast<int64_t>(limit)) +
                       " and " + std::to_string(static_cast<int64_t>(limit)));
    }
    return v;
  }
};

// Parses flags, loads the policy; returns nothing after printing --help.
std::optional<Study> open_study(const std::string& name, const std::vector<std::string>& args, StudyFlags& f,
                                bool needs_out_dir) {
  Study s;
  s.vm = parse_flags("analyze " + name, args, f.flags, f.positional);
  if (s.vm.count("help")) {
    std::cout << f.flags;
    return std::nullopt;
  }
  if (!s.vm.count("run")) throw InputError("shardlab analyze " + name + ": expected a run folder or checkpoint");
  std::vector<std::string> overrides = {"env.placement=uniform"};
  if (s.vm.count("set"))
    for (const auto& o : s.vm["set"].as<std::vector<std::string>>()) overrides.push_back(o);
  check_policy_overrides(overrides, "analyze " + name + " --set");
  const std::string run = s.str("run");
  s.policy = MazePolicy::load(run, shardlab_schema(), overrides);
  at::set_num_threads(static_cast<int>(std::max<int64_t>(1, s.policy->spec().get_int("run.threads"))));
  if (needs_out_dir) {
    if (s.vm.count("out"))
      s.out_dir = s.str("out");
    else
      s.out_dir = fs::is_directory(run) ? (fs::path(run) / "analysis").string()
                                        : (fs::path(run).parent_path().parent_path() / "analysis").string();
    std::error_code ec;
    fs::create_directories(s.out_dir, ec);
    if (ec) throw InputError("--out " + s.out_dir + ": cannot create the folder: " + ec.message());
  }
  return s;
}

std::pair<int64_t, int64_t> seeds_of(const Study& s) {
  if (!s.has("seeds")) throw InputError("--seeds A:B is required");
  const auto r = parse_range(s.str("seeds"), "--seeds");
  if (r.first < 0 || r.second > 2147483647)
    throw InputError("--seeds " + s.str("seeds") + ": seeds are in [0, 2^31 - 1)");
  return r;
}

// The levels of --seeds the policy can be studied on; `counts` (may be null) receives how many
// seeds were asked for, how many were too large and (until the study sets it) used = every level
// returned. A study that leaves out more adds why to counts->other_left_out.
std::vector<MazeLayout> levels_of(const Study& s, MazeCounts* counts = nullptr) {
  const auto [begin, end] = seeds_of(s);
  int64_t skipped = 0;
  auto levels = study_levels(s.p(), begin, end, &skipped);
  if (skipped)
    std::cerr << "analyze: " << skipped << " of " << end - begin
              << " mazes are outside " << s.p().maze_config().maze_size_limits()
              << " and left out\n";
  if (levels.empty()) throw InputError("--seeds " + s.str("seeds") + ": no maze in that range to study");
  if (counts) {
    counts->seeds = end - begin;
    counts->outside_sizes = skipped;
    counts->min_maze_size = s.p().maze_config().min_maze_size;
    counts->max_maze_size = s.p().maze_config().max_maze_size;
    counts->used = static_cast<int64_t>(levels.size());
  }
  return levels;
}

// How many of `levels` have no decision square (for the studies that need one).
int64_t without_decision_square(const std::vector<MazeLayout>& levels) {
  return std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return !find_decision_square(l); });
}

Protocol protocol_of(const Study& s) { return parse_protocol(s.str("protocol")); }

// Flags of the protocol not in use, when given, are refused with one line naming the flag and
// its protocol: silently ignoring them would report numbers the user did not ask for. A flag left
// at its default value was not given.
void refuse_flags_of_other_protocol(const Study& s, Protocol in_use, const std::vector<std::string>& other_flags) {
  const char* other = in_use == Protocol::kReference ? "ours" : "reference";
  for (const auto& k : other_flags)
    if (s.vm.count(k) && !s.vm[k].defaulted())
      throw InputError("--" + k + " is for --protocol " + other + "; this run uses --protocol " + protocol_name(in_use));
}

constexpr const char* kProtocolHelp =
    "reference: the published protocol as procgen-tools runs it (default); ours: our earlier variant";

std::string layer_of(const Study& s) {
  const std::string layer = s.has("layer") ? s.str("layer") : kDefaultLayer;
  s.p().layer_shape(layer);
  return layer;
}

std::vector<int64_t> channels_of(const std::string& text) {
  std::vector<std::string> items = split(text, ',');
  if (items.size() > 1 && items.back().empty()) items.pop_back();  // a trailing comma is fine
  std::vector<int64_t> out;
  for (const auto& item : items) {
    if (item.empty() && items.size() == 1) break;
    const auto c = parse_integer(item);
    if (!c) throw InputError("--channels " + text + ": '" + item + "' is not a channel number");
    out.push_back(*c);
  }
  if (out.empty()) throw InputError("--channels: expected C1,C2,...");
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  write_text_file(path, text);
  std::cerr << "wrote " << path << '\n';
}

// ---- record ---------------------------------------------------------------------------------

int analyze_record(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze record RUN --seeds A:B [--layers L1,L2|all] [--mouse start|all] --out FILE.h5");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (A, ..., B-1)")(
      "layers", po::value<std::string>()->default_value("all"), "layers to record, comma-separated, or all")(
      "mouse", po::value<std::string>()->default_value("start"), "start: mouse at the start; all: a row per free cell")(
      "out", po::value<std::string>(), "the activation log to write (.h5)");
  auto s = open_study("record", args, f, false);
  if (!s) return 0;
  if (!s->has("out")) throw InputError("--out FILE.h5 is required");
  RecordOptions o;
  std::tie(o.seed_begin, o.seed_end) = seeds_of(*s);
  const std::string layers = s->str("layers");
  if (layers != "all")
    for (const auto& item : split(layers, ','))
      if (!item.empty()) o.layers.push_back(item);
  const std::string mouse = s->str("mouse");
  if (mouse != "start" && mouse != "all") throw InputError("--mouse " + mouse + ": expected start or all");
  o.mouse_everywhere = mouse == "all";
  o.force = s->has("force");  // record_activations claims the file before recording
  const int64_t rows = record_activations(s->p(), o, s->str("out"), version_string());
  std::cout << "wrote " << rows << " rows to " << s->str("out") << '\n';
  return 0;
}

// ---- steering -------------------------------------------------------------------------------

int analyze_steering(const std::string& name, SteeringVector vector, const std::vector<std::string>& args) {
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
  auto s = open_study(name, args, f, true);
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

// ---- vector field ---------------------------------------------------------------------------

int analyze_vector_field(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze vector-field RUN --seed S [--patch P ...] --svg OUT.svg");
  f.flags.add_options()("seed", po::value<int64_t>(), "maze seed")(
      "patch", po::value<std::vector<std::string>>()->composing(),
      "cheese-vector:LAYER:COEFF | top-right-vector:LAYER:COEFF | channel:LAYER:C:VALUE:X:Y | zero:LAYER:C1,C2 "
      "(repeatable)")("remove-cheese", "draw the maze without its cheese")(
      "all-cells", "an arrow on the cheese's cell too (procgen-tools leaves it out, and so does the default)")(
      "svg", po::value<std::string>(), "the picture to write (an SVG figure: panels, captions, legend)");
  auto s = open_study("vector-field", args, f, false);
  if (!s) return 0;
  if (!s->has("seed")) throw InputError("--seed S is required");
  if (!s->has("svg")) throw InputError("--svg OUT.svg is required");
  check_svg_path(s->str("svg"), "--svg");
  const int64_t seed = s->vm["seed"].as<int64_t>();
  if (seed < 0 || seed >= 2147483647) throw InputError("--seed " + std::to_string(seed) + ": not a level seed");
  s->claim({s->str("svg")});
  auto layout = s->p().level(static_cast<uint32_t>(seed));
  if (!layout) throw InputError("--seed " + std::to_string(seed) + ": maze outside " + s->p().maze_config().maze_size_limits());
  ActivationTaps taps;
  std::string patches;  // as given, for the picture's title
  if (s->has("patch"))
    for (const auto& p : s->vm["patch"].as<std::vector<std::string>>()) {
      add_patch_from_text(s->p(), *layout, p, taps);
      patches += (patches.empty() ? "" : ", ") + p;
    }
  if (s->has("remove-cheese")) *layout = without_cheese(*layout);
  const VectorFieldCells cells = s->has("all-cells") ? VectorFieldCells::kAllFree : VectorFieldCells::kReference;
  const VectorField original = vector_field(s->p(), *layout, nullptr, cells);
  if (s->has("patch")) {
    const VectorField patched = vector_field(s->p(), *layout, &taps, cells);
    draw_vector_fields(original, &patched, patches, s->str("svg"));
  } else {
    draw_vector_fields(original, nullptr, "", s->str("svg"));
  }
  std::cout << "wrote " << s->str("svg") << '\n';
  return 0;
}

// ---- channels -------------------------------------------------------------------------------

int analyze_channels(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze channels RUN --seeds A:B [--layer L] [--top N] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (at least 10 mazes)")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "top", po::value<int64_t>()->default_value(8), "channels to print and draw")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("channels", args, f, true);
  if (!s) return 0;
  const std::string layer = layer_of(*s);
  s->claim({"channels.csv", "channels_summary.json", "channels_top.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto scores = rank_cheese_channels(s->p(), layer, levels);
  counts.used = std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return l.has_cheese(); });
  if (counts.used < static_cast<int64_t>(levels.size()))
    counts.other_left_out.push_back({"without_cheese", static_cast<int64_t>(levels.size()) - counts.used});
  write_file((fs::path(s->out_dir) / "channels.csv").string(), channels_csv(scores));
  const int64_t top = std::min<int64_t>(flag_at_least(s->vm, "top", 1), scores.size());
  write_file((fs::path(s->out_dir) / "channels_summary.json").string(),
             channels_summary_json(s->p(), s->str("seeds"), layer, scores, top, counts));
  std::cout << channels_table(scores, top);
  std::vector<int64_t> best;
  for (int64_t i = 0; i < top; ++i) best.push_back(scores[i].channel);
  std::vector<MazeLayout> shown;
  for (const auto& l : levels)
    if (l.has_cheese() && shown.size() < 4) shown.push_back(l);
  const std::string svg = (fs::path(s->out_dir) / "channels_top.svg").string();
  draw_channels(s->p(), layer, best, shown, svg);
  std::cerr << "wrote " << svg << '\n';
  return 0;
}

// ---- resample -------------------------------------------------------------------------------

int analyze_resample(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze resample RUN --channels C1,C2,... --seeds A:B [--layer L] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "channels", po::value<std::string>(), "the channel set, e.g. the top of `analyze channels`")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "random-sets", po::value<int64_t>()->default_value(10), "random channel sets of the same size to compare with")(
      "seed", po::value<int64_t>()->default_value(0), "seed for drawing the random sets (and, reference, the sources)")(
      "protocol", po::value<std::string>()->default_value("reference"),
      "reference: each channel resampled from its own random other level, mouse on a random cell, cheese moved "
      "onto the target's cheese cell (same) or left (other), cells without the cheese's; ours: from the next "
      "maze of --seeds, mouse at the start, every free cell. Both report mean_total_variation (ours) and "
      "reference_percent_changed (100 * |arrow differences| / cells / 2, the published table's quantity)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("resample", args, f, true);
  if (!s) return 0;
  if (!s->has("channels")) throw InputError("--channels C1,C2,... is required");
  const Protocol protocol = protocol_of(*s);
  const std::string layer = layer_of(*s);
  const auto channels = channels_of(s->str("channels"));
  const int64_t sets = s->vm["random-sets"].as<int64_t>();
  if (sets < 1 || sets > 1000) throw InputError("--random-sets " + std::to_string(sets) + ": expected 1..1000");
  s->claim({"resample.json"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto results =
      intervene_on_channels(s->p(), layer, channels, levels, static_cast<int>(sets),
                            static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)), protocol, &counts.used);
  const int64_t with_cheese =
      std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return l.has_cheese(); });
  if (with_cheese < static_cast<int64_t>(levels.size()))
    counts.other_left_out.push_back({"without_cheese", static_cast<int64_t>(levels.size()) - with_cheese});
  if (counts.used < with_cheese)
    counts.other_left_out.push_back({"without_same_cheese_source", with_cheese - counts.used});
  const std::string json =
      resample_summary_json(s->p(), s->str("seeds"), layer, s->str("channels"), sets, protocol, results, counts);
  write_file((fs::path(s->out_dir) / "resample.json").string(), json);
  std::cout << json;
  return 0;
}

// ---- retarget -------------------------------------------------------------------------------

int analyze_retarget(const std::vector<std::string>& args) {
  StudyFlags f(
      "shardlab analyze retarget RUN --seeds A:B [--protocol reference|ours] [--layer L] [--out DIR]\n"
      "  reference (procgen-tools' four conditions, cheese removed in each): --channel C := --channel-value at the\n"
      "    target; --effective-channels := --effective-value; --cheese-channels := --all-value; and the baseline\n"
      "    with the cheese itself moved onto the target. Defaults are the published model's channels (55; 8,55,77,\n"
      "    82,88,89,113; 7,8,42,44,55,77,82,88,89,99,113): give your own network's. Writes retarget_reference.csv,\n"
      "    retarget_reference_summary.json\n"
      "  ours: --channels C1,C2 := --value at the target, before / after: retarget.csv, retarget_summary.json,\n"
      "    retarget.svg\n"
      "  metric: normalized path probability from the start to the target");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "protocol", po::value<std::string>()->default_value("reference"), kProtocolHelp)(
      "channel", po::value<int64_t>()->default_value(55), "reference: the one channel set at the target")(
      "channel-value", po::value<double>()->default_value(5.5, "5.5"), "reference: its value")(
      "effective-channels", po::value<std::string>()->default_value("8,55,77,82,88,89,113"),
      "reference: the 'effective' cheese channels")("effective-value", po::value<double>()->default_value(2.3, "2.3"),
                                                    "reference: their value")(
      "cheese-channels", po::value<std::string>()->default_value("7,8,42,44,55,77,82,88,89,99,113"),
      "reference: every cheese channel")("all-value", po::value<double>()->default_value(1.0),
                                         "reference: their value")("channels", po::value<std::string>(),
                                                                   "ours: channels to set at the target")(
      "value", po::value<double>()->default_value(5.5), "ours: the value they are set to")(
      "layer", po::value<std::string>(), "a spatial layer (default embedder.block2.res1.resadd_out)")(
      "max-targets", po::value<int64_t>()->default_value(0), "targets per maze, evenly spread (0: every free cell)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("retarget", args, f, true);
  if (!s) return 0;
  const Protocol protocol = protocol_of(*s);
  const std::string layer = layer_of(*s);
  const int max_targets = static_cast<int>(flag_at_least(s->vm, "max-targets", 0));
  if (protocol == Protocol::kReference) {
    if (s->has("channels"))
      throw InputError(
          "--channels is for --protocol ours; the reference protocol takes --channel, "
          "--effective-channels and --cheese-channels");
    refuse_flags_of_other_protocol(*s, protocol, {"value"});
    RetargetConditions k;
    k.channel = s->vm["channel"].as<int64_t>();
    k.channel_value = s->bounded("channel-value");
    k.effective = channels_of(s->str("effective-channels"));
    k.effective_value = s->bounded("effective-value");
    k.cheese_channels = channels_of(s->str("cheese-channels"));
    k.all_value = s->bounded("all-value");
    s->claim({"retarget_reference.csv", "retarget_reference_summary.json"});
    MazeCounts counts;
    const auto levels = levels_of(*s, &counts);
    const auto rows = run_reference_retargeting(s->p(), layer, k, levels, max_targets);
    write_file((fs::path(s->out_dir) / "retarget_reference.csv").string(), reference_retarget_csv(rows));
    const std::string json = reference_retarget_summary_json(s->p(), s->str("seeds"), layer, k, rows, counts);
    write_file((fs::path(s->out_dir) / "retarget_reference_summary.json").string(), json);
    std::cout << json;
    return 0;
  }
  refuse_flags_of_other_protocol(*s, protocol,
                                 {"channel", "channel-value", "effective-channels", "effective-value",
                                  "cheese-channels", "all-value"});
  if (!s->has("channels")) throw InputError("--channels C1,C2,... is required with --protocol ours");
  const auto channels = channels_of(s->str("channels"));
  const double value = s->bounded("value");
  s->claim({"retarget.csv", "retarget_summary.json", "retarget.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const auto rows = run_retargeting(s->p(), layer, channels, value, levels, max_targets);
  write_file((fs::path(s->out_dir) / "retarget.csv").string(), retarget_csv(rows));
  const std::string json =
      retarget_summary_json(s->p(), s->str("seeds"), layer, s->str("channels"), value, rows, counts);
  write_file((fs::path(s->out_dir) / "retarget_summary.json").string(), json);
  std::cout << json;

  // The first maze's targets, before | after.
  const std::string svg = (fs::path(s->out_dir) / "retarget.svg").string();
  draw_retarget(levels.front(), rows, layer, s->str("channels"), value, svg);
  std::cerr << "wrote " << svg << " (seed " << levels.front().level_seed
            << ": path probability to each target, before | after)\n";
  return 0;
}

// ---- behaviour ------------------------------------------------------------------------------

constexpr int64_t kReferenceSeedRange = 1000000;  // gather_data.py: level seeds from [0, 10^6)

// The reference protocol: random level seeds, episodes cut at --max-steps, "got the cheese" judged
// from the last recorded state, mazes with a decision square whose cheese is outside the top-right
// 5x5, eleven z-scored features, L1 logistic regression over --splits random splits.
int behaviour_reference(Study& s) {
  if (s.has("seeds"))
    throw InputError("--seeds is for --protocol ours; the reference protocol draws --episodes level seeds from [0, " +
                     std::to_string(kReferenceSeedRange) + ") with --seed");
  BehaviourProtocol p;
  p.episodes = s.vm["episodes"].as<int64_t>();
  p.seed_range = kReferenceSeedRange;
  p.max_steps = s.vm["max-steps"].as<int64_t>();
  p.seed = static_cast<uint64_t>(flag_at_least(s.vm, "seed", 0));
  if (p.max_steps < 1 || p.max_steps > 100000) throw InputError("--max-steps: expected 1..100000");
  const double c = s.bounded("c", 1e12);
  if (!(c > 0)) throw InputError("--c: expected a positive number");
  const int64_t splits = s.vm["splits"].as<int64_t>();
  if (splits < 1 || splits > 100000) throw InputError("--splits: expected 1..100000");
  s.claim({"behaviour_reference.json", "behaviour_reference.csv"});

  MazeCounts counts;
  counts.seeds = p.episodes;
  counts.min_maze_size = s.p().maze_config().min_maze_size;
  counts.max_maze_size = s.p().maze_config().max_maze_size;
  int64_t no_square = 0, in_region = 0;
  std::vector<MazeLayout> mazes;
  for (const uint32_t seed : draw_level_seeds(p.episodes, p.seed_range, p.seed)) {
    const auto level = s.p().level(seed);
    if (!level) {
      ++counts.outside_sizes;
    } else if (!find_decision_square(*level)) {
      ++no_square;
    } else if (cheese_in_top_right_region(*level, 5)) {
      ++in_region;
    } else {
      mazes.push_back(*level);
    }
  }
  counts.other_left_out = {{"without_decision_square", no_square}, {"cheese_in_top_right_5x5", in_region}};
  counts.used = static_cast<int64_t>(mazes.size());
  if (mazes.size() < 10)
    throw InputError("--episodes " + std::to_string(p.episodes) + ": only " + std::to_string(mazes.size()) +
                     " mazes kept (decision square, cheese outside the top-right 5x5); need at least 10");
  // Only the kept mazes are played: the episodes are independent, so the others would not change them.
  const auto got = gets_cheese(s.p(), mazes, p.seed, static_cast<int>(p.max_steps),
                               CheeseJudgement::kReferenceLastStateNextToCheese);
  std::vector<std::vector<double>> x;
  for (const auto& l : mazes) x.push_back(reference_features(l).values);
  const SplitRegression r =
      repeated_split_regression(x, got, ReferenceFeatures::names(), c, static_cast<int>(splits), 0.2, p.seed);
  write_file((fs::path(s.out_dir) / "behaviour_reference.csv").string(), behaviour_reference_csv(mazes, got, x));
  const std::string json = behaviour_reference_json(s.p(), p, r, counts);
  write_file((fs::path(s.out_dir) / "behaviour_reference.json").string(), json);
  std::cout << json;
  return 0;
}

int analyze_behaviour(const std::vector<std::string>& args) {
  StudyFlags f(
      "shardlab analyze behaviour RUN [--protocol reference|ours] [--out DIR]\n"
      "  reference (procgen-tools' behavioural statistics): --episodes level seeds drawn without replacement\n"
      "    from [0, 10^6) with --seed, episodes cut at --max-steps (256), 'got the cheese' = the mouse next to\n"
      "    the cheese in the last recorded state (it reached the cheese, or stopped next to it when cut); kept:\n"
      "    mazes with a decision square whose cheese is outside the maze's top-right 5x5; the eleven distance\n"
      "    features of metrics.py (no taxicab ones) z-scored; L1 logistic regression as liblinear (C = --c,\n"
      "    intercept penalized) over --splits random 80/20 splits, against the majority class.\n"
      "    Writes behaviour_reference.json and behaviour_reference.csv\n"
      "  ours: the mazes of --seeds A:B with a decision square, episodes of env.max_episode_steps, six features,\n"
      "    L2 logistic regression on one --train-fraction split: behaviour.json");
  f.flags.add_options()("protocol", po::value<std::string>()->default_value("reference"), kProtocolHelp)(
      "episodes", po::value<int64_t>()->default_value(10000), "reference: episodes (level seeds) to draw")(
      "max-steps", po::value<int64_t>()->default_value(256), "reference: steps an episode is cut at")(
      "splits", po::value<int64_t>()->default_value(50), "reference: random 80/20 train/test splits")(
      "c", po::value<double>()->default_value(1.0),
      "reference: liblinear's C, the inverse L1 strength (sklearn's default 1)")(
      "seeds", po::value<std::string>(), "ours: maze seeds A:B (mazes without a decision square are left out)")(
      "train-fraction", po::value<double>()->default_value(0.8),
      "ours: share of the mazes the regression is fitted on")(
      "seed", po::value<int64_t>()->default_value(0),
      "seed of the policy's sampled moves (reference: also of the level seeds and the splits)")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("behaviour", args, f, true);
  if (!s) return 0;
  if (protocol_of(*s) == Protocol::kReference) {
    refuse_flags_of_other_protocol(*s, Protocol::kReference, {"train-fraction"});
    return behaviour_reference(*s);
  }
  refuse_flags_of_other_protocol(*s, Protocol::kOurs, {"episodes", "max-steps", "splits", "c"});
  const double fraction = s->vm["train-fraction"].as<double>();
  if (!(fraction > 0 && fraction < 1)) throw InputError("--train-fraction: expected a number in (0, 1)");
  s->claim({"behaviour.json"});
  MazeCounts counts;
  std::vector<MazeLayout> mazes;
  const auto levels = levels_of(*s, &counts);
  for (const auto& l : levels)
    if (find_decision_square(l)) mazes.push_back(l);
  counts.used = static_cast<int64_t>(mazes.size());
  counts.other_left_out.push_back({"without_decision_square", static_cast<int64_t>(levels.size() - mazes.size())});
  if (mazes.size() < 10)
    throw InputError("--seeds: need at least 10 mazes with a decision square, got " + std::to_string(mazes.size()));
  const auto got = gets_cheese(s->p(), mazes, static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)));
  std::vector<std::vector<double>> x;
  for (const auto& l : mazes) x.push_back(decision_features(l).values);
  const int64_t train = std::max<int64_t>(2, static_cast<int64_t>(fraction * static_cast<double>(mazes.size())));
  const LogisticFit fit = fit_logistic(x, got, std::min<int64_t>(train, mazes.size() - 1), DecisionFeatures::names());
  const std::string json =
      behaviour_summary_json(s->p(), s->str("seeds"), static_cast<int64_t>(mazes.size()), fit, counts);
  write_file((fs::path(s->out_dir) / "behaviour.json").string(), json);
  std::cout << json;
  return 0;
}

// ---- steering directions compared, layer sweep ----------------------------------------------

std::vector<double> coeffs_of(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : split(text, ',')) {
    const auto v = parse_double(item);
    if (!v) throw InputError("--coeffs " + text + ": '" + item + "' is not a number");
    out.push_back(Study::bounded_number(*v, "--coeffs", Study::kLargestEdit));
  }
  if (out.empty()) throw InputError("--coeffs: expected C1,C2,...");
  return out;
}

int analyze_steering_compare(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze steering-compare RUN --seeds A:B [--layer L] [--coeffs C1,C2,...] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B (at least 4 with a decision square)")(
      "layer", po::value<std::string>(), (std::string("layer to steer (default ") + kDefaultLayer + ")").c_str())(
      "coeffs", po::value<std::string>()->default_value("-2,-1,-0.5,0.5,1,2"),
      "coefficients, in units of the common norm (the per-maze cheese vectors' mean norm)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random directions")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("steering-compare", args, f, true);
  if (!s) return 0;
  SteeringCompareOptions o;
  o.layer = layer_of(*s);
  o.coeffs = coeffs_of(s->str("coeffs"));
  o.seed = static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0));
  s->claim({"steering_compare.csv", "steering_compare.json", "steering_compare.svg"});
  MazeCounts counts;
  const SteeringComparison c = compare_steering(s->p(), levels_of(*s, &counts), o);
  counts.used = c.mazes;
  counts.other_left_out.push_back({"without_decision_square", c.left_out});
  write_file((fs::path(s->out_dir) / "steering_compare.csv").string(), steering_compare_csv(c));
  write_file((fs::path(s->out_dir) / "steering_compare.svg").string(), steering_compare_svg(c));
  const std::string json = steering_compare_json(s->p(), s->str("seeds"), c, counts);
  write_file((fs::path(s->out_dir) / "steering_compare.json").string(), json);
  std::printf("%d mazes with a decision square (%lld left out), layer %s, common norm %.4g\n", static_cast<int>(c.mazes),
              static_cast<long long>(c.left_out), c.layer.c_str(), c.norm);
  std::printf("probe accuracy: %.3f train (even mazes), %.3f test (odd mazes); cosine(mean difference, probe) %.3f\n",
              c.probe_train_accuracy, c.probe_test_accuracy, c.cosine_mean_difference_probe);
  std::printf("%-16s %7s %18s %21s %12s\n", "direction", "coeff", "median P(cheese)", "median P(top-right)",
              "rose/fell");
  std::printf("%-16s %7s %18.3f %21.3f\n", "none", "", c.median_p_cheese, c.median_p_top_right);
  for (const auto& r : c.rows)
    std::printf("%-16s %7.3g %18.3f %21.3f %6lld/%lld\n", r.method.c_str(), r.coeff, r.median_p_cheese,
                r.median_p_top_right, static_cast<long long>(r.cheese_rose), static_cast<long long>(r.cheese_fell));
  return 0;
}

int analyze_layer_sweep(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze layer-sweep RUN --seeds A:B [--layers main|all|L1,L2,...] [--coeff C] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layers", po::value<std::string>()->default_value("main"),
      "main: block conv, maxpool and residual-add outputs and the fc layers; all: every tap but the value head; "
      "or a comma-separated list")("coeff", po::value<double>()->default_value(-1.0),
                                   "coefficient of the cheese vectors (-1: subtracted, as published)")(
      "seed", po::value<int64_t>()->default_value(0), "seed of the random control vectors")(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("layer-sweep", args, f, true);
  if (!s) return 0;
  const std::string which = s->str("layers");
  std::vector<std::string> layers;
  if (which == "main" || which == "all") {
    layers = sweep_layers(s->p(), which == "all");
  } else {
    for (const auto& item : split(which, ','))
      if (!item.empty()) layers.push_back(item);
  }
  if (layers.empty()) throw InputError("--layers " + which + ": no layer named");
  s->claim({"layer_sweep.csv", "layer_sweep.json", "layer_sweep.svg"});
  MazeCounts counts;
  const LayerSweep sweep = sweep_steering_layers(s->p(), levels_of(*s, &counts), layers, s->bounded("coeff"),
                                                 static_cast<uint64_t>(flag_at_least(s->vm, "seed", 0)));
  counts.used = sweep.mazes;
  counts.other_left_out.push_back({"without_decision_square", sweep.left_out});
  write_file((fs::path(s->out_dir) / "layer_sweep.csv").string(), layer_sweep_csv(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.svg").string(), layer_sweep_svg(sweep));
  write_file((fs::path(s->out_dir) / "layer_sweep.json").string(),
             layer_sweep_json(s->p(), s->str("seeds"), sweep, counts));
  std::printf("%lld mazes with a decision square (%lld left out); median P(cheese) without a vector %.3f\n",
              static_cast<long long>(sweep.mazes), static_cast<long long>(sweep.left_out), sweep.median_p_cheese);
  std::printf("%-40s %-10s %22s %22s %22s\n", "layer", "shape", "per-maze: dP(cheese)", "mean diff: dP(cheese)",
              "random: dP(cheese)");
  for (const auto& r : sweep.rows)
    std::printf("%-40s %-10s %22s %22s %22s\n", r.layer.c_str(), r.shape.c_str(),
                mean_and_interval_text(r.effect_per_maze, 3).c_str(),
                mean_and_interval_text(r.effect_mean_difference, 3).c_str(),
                mean_and_interval_text(r.effect_random, 3).c_str());
  return 0;
}

int analyze_pushes(const std::vector<std::string>& args) {
  StudyFlags f("shardlab analyze pushes RUN --seeds A:B [--layer L] [--out DIR]");
  f.flags.add_options()("seeds", po::value<std::string>(), "maze seeds A:B")(
      "layer", po::value<std::string>(), (std::string("layer whose channels are ablated (default ") + kDefaultLayer + ")").c_str())(
      "out", po::value<std::string>(), "output folder (default RUN/analysis)");
  auto s = open_study("pushes", args, f, true);
  if (!s) return 0;
  const std::string layer = layer_of(*s);
  s->claim({"pushes.csv", "pushes.json", "pushes.svg"});
  MazeCounts counts;
  const auto levels = levels_of(*s, &counts);
  const PushStudy study = measure_pushes(s->p(), layer, levels);
  counts.used = study.mazes;
  counts.other_left_out.push_back({"without_decision_square", study.left_out});
  // The cheese-tracking ranking of `analyze channels` on the same mazes, for a spatial layer.
  std::vector<int64_t> tracking_order, tracking_rank;
  if (s->p().layer_shape(layer).size() == 3) {
    const auto scores = rank_cheese_channels(s->p(), layer, levels);
    tracking_rank.assign(scores.size(), 0);
    for (size_t i = 0; i < scores.size(); ++i) {
      tracking_order.push_back(scores[i].channel);
      tracking_rank[scores[i].channel] = static_cast<int64_t>(i + 1);
    }
  }
  write_file((fs::path(s->out_dir) / "pushes.csv").string(), pushes_csv(study, tracking_rank));
  write_file((fs::path(s->out_dir) / "pushes.svg").string(), pushes_svg(study));
  const std::string json = pushes_json(s->p(), s->str("seeds"), study, tracking_order, counts);
  write_file((fs::path(s->out_dir) / "pushes.json").string(), json);
  std::cout << json;
  return 0;
}

}  // namespace

int analyze_milestones(const std::vector<std::string>& args);  // cmd_analyze_milestones.cpp

int cmd_analyze(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string study = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (study == "record") return analyze_record(rest);
  if (study == "cheese-vector") return analyze_steering(study, SteeringVector::kCheese, rest);
  if (study == "top-right-vector") return analyze_steering(study, SteeringVector::kTopRight, rest);
  if (study == "vector-field") return analyze_vector_field(rest);
  if (study == "channels") return analyze_channels(rest);
  if (study == "resample") return analyze_resample(rest);
  if (study == "retarget") return analyze_retarget(rest);
  if (study == "behaviour") return analyze_behaviour(rest);
  if (study == "steering-compare") return analyze_steering_compare(rest);
  if (study == "layer-sweep") return analyze_layer_sweep(rest);
  if (study == "pushes") return analyze_pushes(rest);
  if (study == "milestones") return analyze_milestones(rest);
  throw InputError("unknown study '" + study + "' (`shardlab analyze --help` lists them)");
}

}  // namespace shardlab::cli
