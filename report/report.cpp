#include "report/report.h"

#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/metrics_csv.h"
#include "core/statistics.h"
#include "core/text.h"
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
    if (!sweeps_.empty()) overview.push_back({"sweeps", std::to_string(sweeps_.size())});
    if (!ablations_.empty()) overview.push_back({"ablation grids", std::to_string(ablations_.size())});
    overview.push_back({"run folders", std::to_string(run_folders_)});
    overview.push_back({"folders of other results", std::to_string(result_folders_)});
    page.add({"overview", "Overview",
              note("Everything below is embedded in this one file; it links to nothing outside itself.") +
                  html::table({"found in " + display_name, "count"}, overview),
              2});
    for (auto* list : {&sweeps_, &ablations_, &runs_, &results_})
      for (html::Section& s : *list) page.add(std::move(s));
    return page;
  }

 private:
  fs::path root_;
  std::set<std::string> ids_ = {"overview"};
  std::vector<html::Section> sweeps_, ablations_, runs_, results_;
  int result_folders_ = 0, run_folders_ = 0;

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
    if (is_sweep(dir)) {
      sweep_section(dir, used_files);
      skip_folders.insert({"runs", "logs"});
    }
    if (is_ablation(dir)) {
      ablation_section(dir, used_files);
      skip_folders.insert({"cells", "datasets"});
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

  void sweep_section(const fs::path& dir, std::set<std::string>& used) {
    const std::string name = rel(dir);
    const std::string sweep_id = id("sweep " + name);
    used.insert({"sweep.json", "spec.ini", "summary.csv", "summary.md", "summary.svg"});
    SweepPlan plan;
    try {
      plan = read_sweep(dir.string());
    } catch (const Error& e) {
      sweeps_.push_back({sweep_id, "Sweep " + name, note(e.what()), 2});
      return;
    }
    std::string grid;
    for (const GridAxis& axis : plan.grid) {
      std::string values;
      for (const auto& v : axis.values) values += (values.empty() ? "" : ", ") + v;
      grid += (grid.empty() ? "" : "; ") + axis.key + " = " + values;
    }
    std::string command, eval_sets;
    for (const auto& a : plan.command) command += (command.empty() ? "" : " ") + a;
    for (const auto& s : plan.eval_sets) eval_sets += (eval_sets.empty() ? "" : " ") + s;
    // The cells, with their final evaluation once finished.
    std::vector<std::string> header = {"cell", "seed", "grid point", "status"}, metrics;
    std::vector<std::map<std::string, double>> results;
    size_t finished = 0;
    for (const SweepCell& cell : plan.cells) {
      std::map<std::string, double> r;
      if (cell_finished(plan, cell)) {
        try {
          r = eval_metrics(plan.eval_path(cell));
          ++finished;
        } catch (const Error&) {
          // An unreadable eval.json: the cell shows no numbers, as if unfinished.
        }
        for (const auto& item : r)
          if (std::find(metrics.begin(), metrics.end(), item.first) == metrics.end()) metrics.push_back(item.first);
      }
      results.push_back(std::move(r));
    }
    std::vector<std::vector<std::string>> facts = {
        {"folder", name},
        {"command", command},
        {"seeds", plan.seeds},
        {"grid", grid.empty() ? "(none: seeds only)" : grid},
        {"ranks per cell", std::to_string(plan.nproc)},
        {"evaluation", std::to_string(plan.episodes) + " episodes, " + (plan.greedy ? "greedy" : "sampled") +
                           (eval_sets.empty() ? "" : ", --set " + eval_sets)},
        {"cells", std::to_string(plan.cells.size()) + ", " + std::to_string(finished) + " finished"}};
    sweeps_.push_back({sweep_id, "Sweep " + name, html::table({"fact", "value"}, facts, false), 2});

    std::string summary;
    if (regular(dir / "summary.md")) summary += html::markdown(read_text_file((dir / "summary.md").string()), 3);
    if (regular(dir / "summary.svg")) {
      summary += picture_html(dir / "summary.svg", name + "/summary.svg");
    } else if (finished > 0) {
      summary += note("Not summarized yet (`shardlab sweep summarize " + name +
                      "` writes summary.csv, .md, .svg); the finished cells' mean_return:");
      BarChart chart;
      chart.title = "mean_return per grid point (mean and 95% interval over finished seeds)";
      chart.y_label = "mean_return";
      chart.x_label = "grid point";
      chart.series = {"mean_return"};
      for (size_t i = 0; i < plan.cells.size(); ++i) {
        const std::string point = plan.cells[i].point();
        if (std::find(chart.groups.begin(), chart.groups.end(), point) == chart.groups.end())
          chart.groups.push_back(point);
        if (results[i].count("mean_return")) chart.samples[{point, "mean_return"}].push_back(results[i]["mean_return"]);
      }
      summary += "<figure class='chart'>" + html::inline_svg(bar_chart_svg(chart)) + "<figcaption>" +
                 html::escaped(chart.title) + "</figcaption></figure>\n";
    } else {
      summary += note("No cell has finished yet.");
    }
    if (regular(dir / "summary.csv"))
      summary += "<details><summary>summary.csv</summary>\n" +
                 html::csv_table(read_text_file((dir / "summary.csv").string()), kMaxTableRows) + "</details>\n";
    sweeps_.push_back({id(sweep_id + " summary"), "Summary", summary, 3});

    header.insert(header.end(), metrics.begin(), metrics.end());
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < plan.cells.size() && i < kMaxTableRows; ++i) {
      const SweepCell& cell = plan.cells[i];
      const bool started = regular(fs::path(plan.run_dir(cell)) / "metrics.csv");
      std::vector<std::string> row = {cell.name, std::to_string(cell.seed), cell.point(),
                                      cell_finished(plan, cell) ? "finished"
                                      : started                 ? "started"
                                                                : "not started"};
      for (const auto& m : metrics) row.push_back(results[i].count(m) ? number_text(results[i][m]) : "");
      rows.push_back(std::move(row));
    }
    std::string cells = html::table(header, rows);
    if (plan.cells.size() > kMaxTableRows)
      cells += note("The first " + std::to_string(kMaxTableRows) + " of " + std::to_string(plan.cells.size()) +
                    " cells; sweep.json lists them all.");
    sweeps_.push_back({id(sweep_id + " cells"), "Cells (runs/<cell>/)", cells, 3});
    if (regular(dir / "spec.ini"))
      sweeps_.push_back({id(sweep_id + " spec"), "Spec of every cell", spec_html(dir / "spec.ini"), 3});
  }

  void ablation_section(const fs::path& dir, std::set<std::string>& used) {
    const std::string name = rel(dir);
    const std::string ablation_id = id("ablation " + name);
    used.insert({"ablation.csv", "ablation.md", "ablation.svg", "spec.ini"});
    std::string table;
    if (regular(dir / "ablation.md"))
      table += html::markdown(read_text_file((dir / "ablation.md").string()), 2);
    else
      table += note("No ablation.md yet: `shardlab ablate` writes it when every cell has finished.");
    if (regular(dir / "ablation.svg")) table += picture_html(dir / "ablation.svg", name + "/ablation.svg");
    if (regular(dir / "ablation.csv"))
      table += "<details><summary>ablation.csv (one row per cell)</summary>\n" +
               html::csv_table(read_text_file((dir / "ablation.csv").string()), kMaxTableRows) + "</details>\n";
    ablations_.push_back({ablation_id, "Ablation " + name, table, 2});

    std::vector<std::vector<std::string>> rows;
    const auto cells = entries(dir / "cells", true);
    for (const fs::path& cell : cells) {
      if (rows.size() == kMaxTableRows) break;
      std::string status = "not started", score, mean_return;
      if (const auto j = regular(cell / "result.json") ? read_json(cell / "result.json") : std::nullopt) {
        status = "finished";
        const json e = j->value("evaluation", json());
        if (e.is_object()) {
          score = json_text(e.value("normalized_score", json()));
          mean_return = json_text(e.value("mean_return", json()));
        }
      } else if (regular(cell / "metrics.csv")) {
        status = "started";
      }
      rows.push_back({cell.filename().string(), status, score, mean_return});
    }
    std::string list = html::table({"cell", "status", "normalized_score", "mean_return"}, rows);
    if (cells.size() > kMaxTableRows)
      list += note("The first " + std::to_string(kMaxTableRows) + " of " + std::to_string(cells.size()) + " cells.");
    std::string datasets;
    for (const fs::path& p : entries(dir / "datasets", false))
      if (extension(p) == ".h5")
        datasets += (datasets.empty() ? "" : ", ") + p.filename().string() + " (" + size_text(bytes_on_disk(p)) + ")";
    if (!datasets.empty()) list += note("Datasets (datasets/, not embedded): " + datasets + ".");
    ablations_.push_back({id(ablation_id + " cells"), "Cells (cells/<cell>/)", list, 3});
    if (regular(dir / "spec.ini"))
      ablations_.push_back({id(ablation_id + " spec"), "Spec of the grid", spec_html(dir / "spec.ini"), 3});
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
