// `shardlab report DIR`: the flags and the file; the page is report/report.h's.
#include <ctime>
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "report/parts.h"
#include "report/report.h"

namespace shardlab::cli {
namespace {

namespace fs = std::filesystem;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

}  // namespace

int cmd_report(const std::vector<std::string>& args) {
  po::options_description flags(
      "shardlab report DIR [--out FILE.html] [--force]\n"
      "  one self-contained HTML page of a run, demo, sweep or ablation folder: facts, spec, training\n"
      "  curves, evaluations, videos, and every result file (tables, pictures) in it or its subfolders");
  flags.add_options()("help,h", "show this help")("dir", po::value<std::string>(), "the folder")(
      "out", po::value<std::string>(), "the HTML file (default: DIR/report.html)")("force",
                                                                                   "overwrite an existing --out file");
  po::positional_options_description positional;
  positional.add("dir", 1);
  const auto vm = parse_flags("report", args, flags, positional);
  if (vm.count("help")) {
    std::cout << flags;
    return 0;
  }
  if (!vm.count("dir")) throw InputError("shardlab report: expected the folder DIR (a run, demo, sweep or ablation)");
  const std::string dir = vm["dir"].as<std::string>();
  if (!fs::exists(dir)) throw InputError("shardlab report: no folder " + dir);
  if (!fs::is_directory(dir)) throw InputError("shardlab report: " + dir + " is not a folder");
  if (!report::holds_report(dir))
    throw InputError("shardlab report: " + dir +
                     " is not a run, demo, sweep or ablation folder (no spec.ini with metrics.csv or run.json, nor "
                     "grid.json in it or its subfolders)");
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : (fs::path(dir) / "report.html").string();
  const bool force = vm.count("force") > 0;
  claim_outputs({out}, force);

  const std::string page = report::report_page(
      dir, fs::absolute(dir).lexically_normal().string() + " · written " + utc_now() + " by " + version_string());
  write_file_atomically(out, page, force);
  std::cout << "wrote " << out << " (" << report::size_text(page.size()) << ")\n";
  return 0;
}

}  // namespace shardlab::cli
