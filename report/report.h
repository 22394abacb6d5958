// `shardlab report DIR`: one self-contained HTML page of what a folder holds, for a researcher to
// open in a browser (no server, no network: pictures and videos are data: URIs, charts inline SVG).
//
// The folder is walked, not special-cased: a run folder (spec.ini with metrics.csv or run.json)
// gets a run section (facts, spec, training curves, evaluations, the files in it); a sweep folder
// (sweep.json) its summary, chart and cells; an ablation folder (ablation.csv) its table, chart and
// cells; every other folder's result files (CSV, JSON, Markdown, pictures, videos) are embedded as
// they are. So a demo folder (its run, evaluations and analysis) needs nothing of its own.
#pragma once

#include <string>

namespace shardlab::report {

// Whether `dir` is, or holds within a few folders, a run, sweep or ablation folder.
bool holds_report(const std::string& dir);

// The page of `dir`, with `subtitle` under its title.
std::string report_page(const std::string& dir, const std::string& subtitle);

}  // namespace shardlab::report
