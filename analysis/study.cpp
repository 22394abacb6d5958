#include "analysis/study.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "agents/evaluate.h"
#include "analysis/steering.h"
#include "core/atomic_file.h"
#include "core/flags.h"
#include "core/spec.h"
#include "core/text.h"
#include "envs/maze/maze_paths.h"

namespace shardlab::analysis {

namespace fs = std::filesystem;

StudyFlags::StudyFlags(const std::string& usage) : flags(usage) {
  flags.add_options()("help,h", "show this help")("run", po::value<std::string>(), "run folder or checkpoint file")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a key of the run's spec (env.* keys), e.g. --set env.placement=uniform")(
      "force", "overwrite outputs that exist already");
  positional.add("run", 1);
}

void Study::claim(const std::vector<std::string>& names) const {
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back(out_dir.empty() ? name : (fs::path(out_dir) / name).string());
  claim_outputs(paths, has("force"));
}

double Study::bounded_number(double v, const std::string& flag, double limit) {
  if (!std::isfinite(v) || std::fabs(v) > limit) {
    char text[64];
    std::snprintf(text, sizeof text, "%g", v);
    throw InputError(flag + " " + text + ": expected a number between -" + std::to_string(static_cast<int64_t>(limit)) +
                     " and " + std::to_string(static_cast<int64_t>(limit)));
  }
  return v;
}

std::optional<Study> open_study(const SpecSchema& schema, const std::string& name, const std::vector<std::string>& args,
                                StudyFlags& f, bool needs_out_dir) {
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
  s.policy = MazePolicy::load(run, schema, overrides);
  s.overrides = overrides;
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

std::vector<MazeLayout> levels_of(const Study& s, MazeCounts* counts) {
  const auto [begin, end] = seeds_of(s);
  int64_t skipped = 0;
  auto levels = study_levels(s.p(), begin, end, &skipped);
  if (skipped)
    std::cerr << "analyze: " << skipped << " of " << end - begin << " mazes are outside "
              << s.p().maze_config().maze_size_limits() << " and left out\n";
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

int64_t without_decision_square(const std::vector<MazeLayout>& levels) {
  return std::count_if(levels.begin(), levels.end(), [](const MazeLayout& l) { return !find_decision_square(l); });
}

Protocol protocol_of(const Study& s) { return parse_protocol(s.str("protocol")); }

void refuse_flags_of_other_protocol(const Study& s, Protocol in_use, const std::vector<std::string>& other_flags) {
  const char* other = in_use == Protocol::kReference ? "ours" : "reference";
  for (const auto& k : other_flags)
    if (s.vm.count(k) && !s.vm[k].defaulted())
      throw InputError("--" + k + " is for --protocol " + other + "; this run uses --protocol " +
                       protocol_name(in_use));
}

std::string layer_of(const Study& s) {
  const std::string layer = s.has("layer") ? s.str("layer") : kDefaultLayer;
  s.p().layer_shape(layer);
  return layer;
}

namespace {

// The first `k` channels of a channels.csv that `analyze channels` wrote (ranked, best first).
std::vector<int64_t> top_channels_of(const std::string& text) {
  const size_t colon = text.find(':', 4);
  const auto k = colon == std::string::npos ? std::nullopt : parse_integer(text.substr(4, colon - 4));
  if (!k || *k < 1) throw InputError("--channels " + text + ": expected top:K:FILE with K at least 1");
  const std::string path = text.substr(colon + 1);
  if (!fs::is_regular_file(path)) throw InputError("--channels " + text + ": no file " + path);
  const std::vector<std::string> lines = split(read_text_file(path), '\n');
  if (lines.empty() || lines[0].rfind("rank,channel,", 0) != 0)
    throw InputError(path + ": not a channels.csv of `analyze channels` (its header starts rank,channel,)");
  std::vector<int64_t> out;
  for (size_t i = 1; i < lines.size() && static_cast<int64_t>(out.size()) < *k; ++i) {
    if (lines[i].empty()) continue;
    const std::vector<std::string> cells = split(lines[i], ',');
    const auto c = cells.size() > 1 ? parse_integer(cells[1]) : std::nullopt;
    if (!c) throw InputError(path + ":" + std::to_string(i + 1) + ": no channel number in the second column");
    out.push_back(*c);
  }
  if (static_cast<int64_t>(out.size()) < *k)
    throw InputError("--channels " + text + ": " + path + " ranks only " + std::to_string(out.size()) + " channels");
  return out;
}

}  // namespace

std::vector<int64_t> channels_of(const std::string& text) {
  if (text.rfind("top:", 0) == 0) return top_channels_of(text);
  std::vector<std::string> items = split(text, ',');
  if (items.size() > 1 && items.back().empty()) items.pop_back();  // a trailing comma is fine
  std::vector<int64_t> out;
  for (const auto& item : items) {
    if (item.empty() && items.size() == 1) break;
    const auto c = parse_integer(item);
    if (!c) throw InputError("--channels " + text + ": '" + item + "' is not a channel number");
    out.push_back(*c);
  }
  if (out.empty()) throw InputError("--channels: expected C1,C2,... or top:K:FILE");
  return out;
}

std::vector<double> coefficients_of(const Study& s, const std::string& flag) {
  const std::string text = s.str(flag);
  std::vector<double> out;
  for (const auto& item : split(text, ',')) {
    const auto v = parse_double(item);
    if (!v) throw InputError("--" + flag + " " + text + ": '" + item + "' is not a number");
    out.push_back(Study::bounded_number(*v, "--" + flag, Study::kLargestEdit));
  }
  if (out.empty()) throw InputError("--" + flag + ": expected C1,C2,...");
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  write_text_file(path, text);
  std::cerr << "wrote " << path << '\n';
}

}  // namespace shardlab::analysis
