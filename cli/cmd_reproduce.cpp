// `shardlab reproduce`: every published result as a named recipe (experiments/recipes/NAME.ini),
// run by one command; `--publish` writes its page into docs/results/.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/error.h"
#include "experiments/recipe.h"
#include "experiments/reproduce.h"
#include "experiments/result_page.h"

namespace shardlab::cli {
namespace fs = std::filesystem;
namespace {

constexpr const char* kUsage =
    "shardlab reproduce --list\n"
    "shardlab reproduce NAME|FILE.ini... | --all [--out DIR] [--smoke] [--fresh] [--jobs N] [--publish]\n"
    "shardlab reproduce publish NAME... [--out DIR]\n"
    "shardlab reproduce check\n"
    "  runs each named recipe of experiments/recipes/ into DIR/NAME (result.json, result.md, its files),\n"
    "  training its runs in DIR/runs/ unless a run of the same resolved spec, ranks and training code is\n"
    "  there (then reused; an unfinished one resumes); a rerun skips finished steps. --publish copies a\n"
    "  full-scale result to docs/results/NAME.md (with NAME.json and NAME/ for its figures) and fills the README's\n"
    "  tables quoted from it; `publish` does that for results measured before. `check` compares\n"
    "  every page in docs/results/ with what its JSON gives (exit 1 when one differs)";

std::string docs_results() { return std::string(SHARDLAB_SOURCE_DIR) + "/docs/results"; }
std::string readme() { return std::string(SHARDLAB_SOURCE_DIR) + "/README.md"; }

// One line per recipe: its name, the wall time of its published run (or the recipe's estimate) and its title.
void list_recipes() {
  std::printf("%-20s %-26s %s\n", "recipe", "wall time (2 cores)", "what it publishes");
  for (const std::string& name : recipe_names()) {
    const Recipe recipe = find_recipe(name);
    std::string time = "~" + std::to_string(static_cast<int>(recipe.minutes + 0.5)) + " min (estimate)";
    const std::string published = docs_results() + "/" + name + ".json";
    if (fs::is_regular_file(published)) {
      const auto j = nlohmann::json::parse(read_text_file(published), nullptr, false);
      if (j.is_object() && j.contains("wall_minutes"))
        time = std::to_string(static_cast<int>(j["wall_minutes"].get<double>() + 0.5)) + " min (" +
               j.value("date", "").substr(0, 10) + ")";
    }
    std::printf("%-20s %-26s %s\n", name.c_str(), time.c_str(), recipe.title.c_str());
  }
}

int check_pages() {
  const std::vector<std::string> problems = check_published(docs_results(), readme());
  for (const std::string& problem : problems) std::cerr << problem << "\n";
  if (problems.empty())
    std::cout << "every page in " << docs_results() << " matches its JSON, and so do the README's quoted tables\n";
  return problems.empty() ? 0 : 1;
}

}  // namespace

int cmd_reproduce(const std::vector<std::string>& args) {
  po::options_description flags(kUsage);
  flags.add_options()("help,h", "show this help")("list", "list the recipes with their wall times")(
      "all", "every recipe")("names", po::value<std::vector<std::string>>(), "recipes to run")(
      "out", po::value<std::string>()->default_value("runs/reproduce"), "output folder")(
      "smoke", "the recipes' smoke scale: seconds each, to show they run (never published)")(
      "fresh",
      "remove DIR/NAME's earlier results first (results of other code or another scale are refused without it)")(
      "jobs", po::value<int64_t>()->default_value(2), "processes at once (a run of R ranks counts R)")(
      "publish", "copy each full-scale result to docs/results/ (its page, JSON and figures)");
  po::positional_options_description positional;
  positional.add("names", -1);
  const auto vm = parse_flags("reproduce", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  std::vector<std::string> names =
      vm.count("names") ? vm["names"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("list")) {
    list_recipes();
    return 0;
  }
  if (names.size() == 1 && names[0] == "check") return check_pages();
  if (!names.empty() && names[0] == "publish") {  // results measured earlier, as they are
    if (names.size() == 1) throw InputError("shardlab reproduce publish: expected recipe names");
    for (size_t i = 1; i < names.size(); ++i) {
      find_recipe(names[i]);
      const std::string dir = vm["out"].as<std::string>() + "/" + names[i];
      if (!fs::is_regular_file(dir + "/result.json"))
        throw InputError(dir + ": no result.json (run `shardlab reproduce " + names[i] + "` first)");
      std::cout << "published " << publish_result(dir, docs_results(), readme()) << "\n";
    }
    return 0;
  }
  if (vm.count("all")) names = recipe_names();
  if (names.empty()) throw InputError("shardlab reproduce: expected recipe names, --all or --list");
  if (vm.count("publish") && vm.count("smoke"))
    throw InputError("shardlab reproduce: a smoke result is never published");
  ReproduceOptions options;
  options.out = vm["out"].as<std::string>();
  options.smoke = vm.count("smoke") > 0;
  options.fresh = vm.count("fresh") > 0;
  options.jobs = static_cast<int>(flag_at_least(vm, "jobs", 1));
  std::vector<Recipe> recipes;
  for (const std::string& name : names)  // every name checked first; a path is a recipe of one's own
    recipes.push_back(name.find('/') != std::string::npos || ends_with(name, ".ini") ? read_recipe(name)
                                                                                     : find_recipe(name));
  for (const Recipe& recipe : recipes) {
    std::cerr << "== " << recipe.name << ": " << recipe.title << "\n";
    const std::string result = reproduce(recipe, options, self_executable());
    std::cout << "wrote " << result << " and " << fs::path(result).parent_path().string() << "/result.md\n";
    if (vm.count("publish"))
      std::cout << "published " << publish_result(fs::path(result).parent_path().string(), docs_results(), readme())
                << "\n";
  }
  return 0;
}

}  // namespace shardlab::cli
