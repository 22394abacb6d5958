#include "report/report.h"

#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/metrics_csv.h"
#include "core/statistics.h"
#include "core/text.h"
#include "experiments/grid.h"
#include "experiments/result_page.h"
#include "experiments/sweep.h"
#include "media/bar_chart.h"
#include "report/html.h"
#include "report/parts.h"

namespace shardlab::report {
namespace {

class Report {
 public:
  explicit Report(fs::path root) : root_(std::move(root)) {}

  html::Page build(const std::string& display_name, const std::string& subtitle) {
    visit(root_, 0);
    html::Page page("shardlab report: " + display_name, subtitle);
    std::vector<std::vector<std::string>> overview;
    if (grid_folders_ > 0) overview.push_back({"grids (sweeps, ablations)", std::to_string(grid_folders_)});
    overview.push_back({"run folders", std::to_string(run_folders_)});
    overview.push_back({"folders of other results", std::to_string(result_folders_)});
    for (html::Section& s : findings_) page.add(std::move(s));
    page.add({"overview", "Overview",
              note("Everything below is embedded in this one file; it links to nothing outside itself.") +
                  html::table({"found in " + display_name, "count"}, overview),
              2});
    for (auto* list : {&grids_, &runs_, &results_})
      for (html::Section& s : *list) page.add(std::move(s));
    return page;
  }

 private:
  fs::path root_;
  std::set<std::string> ids_ = {"overview"};
  std::vector<html::Section> findings_, grids_, runs_, results_;
  int result_folders_ = 0, run_folders_ = 0, grid_folders_ = 0;

  std::string rel(const fs::path& p) const {
    const std::string r = fs::relative(p, root_).string();
    const std::string base = fs::absolute(root_).lexically_normal().parent_path().filename().string();
    const std::string name = fs::absolute(root_).lexically_normal().filename().string();
    return (name.empty() ? base : name) + (r == "." ? "" : "/" + r);
  }

  std::string id(const std::string& text) {
    std::string base;
    for (unsigned char c : text) base += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
    if (base.empty()) base = "section";
    std::string unique = base;
    for (int n = 2; !ids_.insert(unique).second; ++n) unique = base + "-" + std::to_string(n);
    return unique;
  }

  void visit(const fs::path& dir, int depth) {
    std::set<std::string> skip_folders = {"checkpoints"};
    std::set<std::string> used_files;
    if (is_run(dir)) {
      run_section(dir);
      return;  // a run's subfolders (videos, analysis) belong to its section
    }
    if (regular(dir / "result.json")) {
      findings_section(dir, used_files);
      used_files.insert("grid.json");
      skip_folders.insert("logs");
    } else if (is_grid(dir)) {
      grid_section(dir, used_files);
      skip_folders.insert({"runs", "logs", "datasets"});
    }
    std::vector<fs::path> files;
    for (const fs::path& p : entries(dir, false))
      if (!used_files.count(p.filename().string())) files.push_back(p);
    if (!files.empty()) {
      ++result_folders_;
      results_.push_back({id("results " + rel(dir)), "Results in " + rel(dir) + "/", files_html(files, root_, 2), 2});
    }
    if (depth >= kMaxDepth) return;
    for (const fs::path& sub : entries(dir, true))
      if (!skip_folders.count(sub.filename().string())) visit(sub, depth + 1);
  }

  // The files in a run folder that are not its own records, by subfolder.
  void run_files(const fs::path& run, const fs::path& dir, int depth, const std::string& run_id) {
    std::vector<fs::path> files;
    for (const fs::path& p : entries(dir, false)) {
      const std::string name = p.filename().string();
      if (dir == run && (name == "spec.ini" || name == "run.json" || name == "metrics.csv")) continue;
      files.push_back(p);
    }
    if (!files.empty()) {
      const std::string where = dir == run ? "in the run folder" : "in " + fs::relative(dir, run).string() + "/";
      runs_.push_back({id(run_id + " " + where), "Files " + where, files_html(files, root_, 3), 3});
    }
    if (depth >= kMaxDepth) return;
    for (const fs::path& sub : entries(dir, true))
      if (!(dir == run && sub.filename() == "checkpoints")) run_files(run, sub, depth + 1, run_id);
  }

  void run_section(const fs::path& dir) {
    const std::string name = rel(dir);
    const std::string run_id = id("run " + name);
    ++run_folders_;
    std::vector<std::vector<std::string>> facts = {{"folder", name}};
    bool offline = false;
    if (const auto j = read_json(dir / "run.json")) {
      offline = j->contains("dataset");
      for (const auto& [key, value] : j->items()) {
        if (key != "history") {
          facts.push_back({key, json_text(value)});
          continue;
        }
        std::string history;
        for (const auto& event : value)
          if (event.is_object())
            history += (history.empty() ? "" : "; ") + event.value("event", std::string("?")) + " " +
                       event.value("time", std::string()) + " at update " + json_text(event.value("update", json()));
        facts.push_back({"history", history});
      }
    } else {
      facts.push_back({"run.json", "missing or unreadable"});
    }
    std::string curves;
    if (regular(dir / "metrics.csv")) {
      try {
        const MetricsTable metrics = read_metrics_csv((dir / "metrics.csv").string());
        const auto& steps = metrics.columns.at("global_step");
        facts.push_back({"updates logged", std::to_string(metrics.rows())});
        facts.push_back({"last global_step", number_text(steps.back())});
        if (metrics.columns.count("time_s")) {
          const double s = metrics.columns.at("time_s").back();
          char buffer[32];
          std::snprintf(buffer, sizeof buffer, "%d:%02d:%02d", static_cast<int>(s / 3600),
                        static_cast<int>(std::fmod(s, 3600) / 60), static_cast<int>(std::fmod(s, 60)));
          facts.push_back({"training time (h:mm:ss)", buffer});
        }
        curves = curves_html(metrics, fs::path(name).filename().string(), offline);
        if (curves.empty()) curves = note("metrics.csv has no column with numbers to draw yet.");
      } catch (const Error& e) {
        curves = note(std::string("No curves: ") + e.what());
      }
    } else {
      curves = note("No metrics.csv yet.");
    }
    std::vector<std::string> checkpoints;
    for (const fs::path& p : entries(dir / "checkpoints", false))
      if (extension(p) == ".pt") checkpoints.push_back(p.filename().string());
    facts.push_back({"checkpoints", checkpoints.empty()
                                        ? "none"
                                        : std::to_string(checkpoints.size()) + ", newest " + checkpoints.back()});
    runs_.push_back({run_id, "Run " + name, html::table({"fact", "value"}, facts, false), 2});
    runs_.push_back(
        {id(run_id + " spec"), "Spec of " + fs::path(name).filename().string(), spec_html(dir / "spec.ini"), 3});
    runs_.push_back({id(run_id + " curves"), "Training curves", curves, 3});
    run_files(dir, dir, 0, run_id);
  }

  // A recipe's result (`shardlab reproduce`), first on the page: what it found (its tables with a
  // sentence each), its figures, then how it was made; its files follow with the other results.
  void findings_section(const fs::path& dir, std::set<std::string>& used) {
    const auto result = read_json(dir / "result.json");
    if (!result || !result->contains("numbers")) return;
    used.insert({"result.json", "result.md", "recipe.json"});
    std::string body = html::markdown(result_findings(*result), 3);
    for (const auto& figure : (*result)["figures"]) {
      const fs::path file = dir / figure["file"].get<std::string>();
      if (regular(file)) body += picture_html(file, result_text(*result, figure["caption"]));
    }
    std::string made = "Made by `" + (*result)["command"].get<std::string>() + "` on commit " +
                       (*result)["commit"].get<std::string>() + ", " + (*result)["date"].get<std::string>() +
                       "; its commands are in result.md, its numbers in result.json.";
    if ((*result)["scale"] == "smoke") made = "**Smoke scale: not results.** " + made;
    body += html::markdown(made, 3);
    findings_.push_back({id("findings " + rel(dir)), result_text(*result, (*result)["title"]), body, 2});
  }

  // A sweep or ablation folder, read through the grid runner's own files: grid.json (its cells and
  // their status), the summary its summary writer made (NAME.md, .svg, .csv) and cells.csv.
  void grid_section(const fs::path& dir, std::set<std::string>& used) {
    const std::string name = rel(dir);
    const std::string grid_id = id("grid " + name);
    ++grid_folders_;
    Grid grid;
    try {
      grid = read_grid(dir.string());
    } catch (const Error& e) {
      grids_.push_back({grid_id, "Grid " + name, note(e.what()), 2});
      return;
    }
    const bool sweep = grid.kind == "sweep";
    const std::string summary_name = sweep ? "summary" : "ablation";
    for (const char* ext : {".md", ".svg", ".csv"}) used.insert(summary_name + ext);
    used.insert({"grid.json", "sweep.json", "spec.ini", "cells.csv", "submit.sh"});
    for (const GridStage& stage : grid.stages) used.insert(stage.name + ".sbatch");
    const GridStatus status = grid_status(grid);
    std::vector<std::vector<std::string>> facts = {{"folder", name}, {"command", "shardlab " + grid.kind}};
    if (sweep) {
      try {
        std::string command;
        for (const auto& a : read_sweep(dir.string()).command) command += (command.empty() ? "" : " ") + a;
        facts[1][1] = command;
      } catch (const Error&) {
        // The facts keep the command's name.
      }
    }
    std::string stages;
    for (const GridStage& stage : grid.stages)
      stages += (stages.empty() ? "" : ", ") + stage.name + " (" + std::to_string(stage.cells.size()) + ")";
    facts.push_back({"stages (cells)", stages});
    facts.push_back({"cells", status.text(grid)});
    grids_.push_back(
        {grid_id, (sweep ? "Sweep " : "Ablation ") + name, html::table({"fact", "value"}, facts, false), 2});

    std::string summary;
    const fs::path md = dir / (summary_name + ".md");
    if (regular(md)) {
      summary += html::markdown(read_text_file(md.string()), 3);
      if (regular(dir / (summary_name + ".svg")))
        summary += picture_html(dir / (summary_name + ".svg"), name + "/" + summary_name + ".svg");
      for (const std::string& csv : {summary_name + ".csv", std::string("cells.csv")})
        if (regular(dir / csv))
          summary += "<details><summary>" + csv + (csv == "cells.csv" ? " (one row per cell)" : " (per row)") +
                     "</summary>\n" + html::csv_table(read_text_file((dir / csv).string()), kMaxTableRows) +
                     "</details>\n";
    } else {
      summary += note("Not summarized yet: `shardlab " + grid.kind + " summarize " + name + "` writes " + summary_name +
                      ".md, .svg and .csv from the finished cells.");
    }
    grids_.push_back({id(grid_id + " summary"), "Summary", summary, 3});

    std::vector<std::vector<std::string>> rows;
    for (const GridStage& stage : grid.stages)
      for (const GridCell& cell : stage.cells) {
        if (cell.outputs.empty() || rows.size() == kMaxTableRows) continue;
        rows.push_back({cell.name, stage.name, cell_state_name(cell_state(grid, cell))});
      }
    std::string cells = html::table({"cell", "stage", "status"}, rows);
    if (static_cast<size_t>(status.cells) > kMaxTableRows)
      cells += note("The first " + std::to_string(kMaxTableRows) + " of " + std::to_string(status.cells) +
                    " cells; grid.json lists them all, cells.csv has every finished cell's numbers.");
    grids_.push_back({id(grid_id + " cells"), "Cells (runs/<cell>/, logs/<cell>.log)", cells, 3});
    if (regular(dir / "spec.ini"))
      grids_.push_back({id(grid_id + " spec"), "Spec of every cell", spec_html(dir / "spec.ini"), 3});
  }
};

}  // namespace

bool holds_report(const std::string& dir) { return holds_results(dir, 0); }

std::string report_page(const std::string& dir, const std::string& subtitle) {
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  std::string name = absolute.filename().string();
  if (name.empty()) name = absolute.parent_path().filename().string();
  Report report{fs::path(dir)};
  return report.build(name, subtitle).render();
}

}  // namespace shardlab::report
