// The pushes study's files (analysis/pushes.h): pushes.csv, pushes.json, pushes.svg.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "analysis/pushes.h"
#include "analysis/report_json.h"
#include "core/significance.h"
#include "core/statistics.h"
#include "media/bar_chart.h"

namespace shardlab::analysis {
namespace {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = finite_mean(a), mb = finite_mean(b);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::nan("");
}

// NAME and NAME_ci95 ([lo, hi], the Student-t 95% interval of the mean over mazes).
void put_mean(Json& j, const std::string& name, const std::vector<double>& values) {
  const double m = finite_mean(values), h = t_interval95(values);
  j[name] = number(m);
  j[name + "_ci95"] = {number(m - h), number(m + h)};
}

int64_t family_size(const PushStudy& s) {
  int64_t n = 0;
  for (const auto& a : s.pushes) n += static_cast<int64_t>(a.by_channel.size());
  return n;
}

// Are the channels that track the cheese the ones that push toward it? The overlap of the top k
// of each ranking, k = the number of channels pushing for the cheese (at least 1, at most 5).
Json tracking_overlap(const std::vector<PushTest>& tests, const std::vector<int64_t>& tracking_order) {
  const size_t k = std::clamp<size_t>(channels_with(tests, Verdict::kCheese).size(), 1, 5);
  std::vector<std::pair<double, int64_t>> order;
  for (size_t c = 0; c < tests.size(); ++c) order.push_back({-tests[c].mean, static_cast<int64_t>(c)});
  std::sort(order.begin(), order.end());
  std::vector<int64_t> by_push;
  for (size_t i = 0; i < k && i < order.size(); ++i) by_push.push_back(order[i].second);
  const std::vector<int64_t> tracking(
      tracking_order.begin(), tracking_order.begin() + static_cast<std::ptrdiff_t>(std::min(k, tracking_order.size())));
  int64_t overlap = 0;
  for (int64_t c : by_push) overlap += std::count(tracking.begin(), tracking.end(), c) > 0;
  return {
      {"top_k", k}, {"top_pushing_toward_cheese", by_push}, {"top_tracking_cheese", tracking}, {"overlap", overlap}};
}

Json verdicts_json(const std::vector<PushTest>& tests) {
  return {{"surviving_holm", surviving(tests)},
          {"cheese_pushing_channels", channels_with(tests, Verdict::kCheese)},
          {"top_right_pushing_channels", channels_with(tests, Verdict::kTopRight)}};
}

// One ablation's section: the trained network's verdicts and estimates, the nulls beside them.
Json ablation_json(const PushReport& r, size_t a, const std::vector<PushTest>& tests,
                   const std::vector<PushTest>& null_tests, const std::vector<int64_t>& shuffled) {
  const AblationPushes& p = r.trained.pushes[a];
  Json j = verdicts_json(tests);
  j["untrained_null"] = verdicts_json(null_tests);
  std::vector<double> counts(shuffled.begin(), shuffled.end());
  j["shuffled_channel_null"] = {{"shuffles", r.shuffles},
                                {"mean_surviving_holm", number(finite_mean(counts))},
                                {"surviving_holm_95th_percentile", number(quantile(counts, 0.95))},
                                {"max_surviving_holm", number(*std::max_element(counts.begin(), counts.end()))}};
  Json additivity;
  put_mean(additivity, "mean_push_all_channels", p.all_channels);
  put_mean(additivity, "mean_sum_of_single_channel_pushes", p.sum_of_single);
  additivity["correlation_over_mazes"] = number(pearson(p.all_channels, p.sum_of_single));
  j["additivity"] = additivity;
  std::vector<double> ablation, gxa;
  for (size_t c = 0; c < p.by_channel.size(); ++c) {
    ablation.push_back(tests[c].mean);
    gxa.push_back(finite_mean(p.gradient_x_activation[c]));
  }
  j["correlation_push_gradient_x_activation_over_channels"] = number(pearson(ablation, gxa));
  if (!r.tracking_order.empty()) j["cheese_tracking"] = tracking_overlap(tests, r.tracking_order);
  return j;
}

}  // namespace

std::string pushes_csv(const PushReport& r) {
  std::ostringstream csv;
  csv << "network,ablation,channel,mean_push,ci95_lo,ci95_hi,p,p_holm,verdict,mean_push_gradient_x_activation,"
         "ci95_gradient_x_activation,share_toward_cheese,cheese_tracking_rank\n";
  for (const PushStudy* s : {&r.trained, &r.null.study}) {
    const auto tests = test_study(*s, r.alpha);
    for (size_t a = 0; a < s->pushes.size(); ++a) {
      const AblationPushes& p = s->pushes[a];
      for (size_t c = 0; c < p.by_channel.size(); ++c) {
        const PushTest& t = tests[a][c];
        const auto toward =
            std::count_if(p.by_channel[c].begin(), p.by_channel[c].end(), [](double v) { return v > 0; });
        csv << (s == &r.trained ? "trained" : "untrained") << ',' << ablation_name(p.ablation) << ',' << c << ','
            << csv_number(t.mean) << ',' << csv_number(t.ci95_lo) << ',' << csv_number(t.ci95_hi) << ','
            << csv_number(t.p) << ',' << csv_number(t.p_holm) << ',' << verdict_name(t.verdict) << ','
            << csv_number(finite_mean(p.gradient_x_activation[c])) << ','
            << csv_number(t_interval95(p.gradient_x_activation[c])) << ','
            << csv_number(static_cast<double>(toward) / static_cast<double>(std::max<int64_t>(1, s->mazes))) << ',';
        if (!r.tracking_rank.empty()) csv << r.tracking_rank[c];
        csv << '\n';
      }
    }
  }
  return csv.str();
}

std::string pushes_json(const MazePolicy& policy, const std::string& seeds, const PushReport& r,
                        const MazeCounts& counts) {
  const PushStudy& s = r.trained;
  Json j = summary_header("pushes", policy.checkpoint(), seeds, "ours", counts);
  j["layer"] = s.layer;
  j["mazes"] = s.mazes;
  j["mazes_left_out"] = s.left_out;
  std::vector<std::string> names;
  for (const auto& a : s.pushes) names.push_back(ablation_name(a.ablation));
  j["design"] = {
      {"push",
       "gap log P(cheese move) - log P(top-right move) at the decision square, minus the gap with the "
       "channel alone ablated"},
      {"ablations", names},
      {"resample",
       "the mazes in an order drawn with the seed; each takes the channel's map of the next maze in "
       "that order (the last the first's), never its own"},
      {"seed", s.seed},
      {"test", "two-sided one-sample t test of mean push = 0 over the mazes, per channel and ablation"},
      {"holm_family", "every (channel, ablation) test of one network"},
      {"holm_family_size", family_size(s)},
      {"alpha", number(r.alpha)},
      {"intervals", "Student-t 95% intervals of the mean over mazes, not adjusted for multiplicity"},
      {"shuffled_channel_null", "each maze's pushes permuted across channels, per ablation; the same tests"}};
  put_mean(j, "mean_gap_log_p_cheese_minus_log_p_top_right", s.gap);
  Json null = {{"source", r.null.source}};
  null["checkpoint"] = r.null.checkpoint.empty() ? Json(nullptr) : Json(r.null.checkpoint);
  null["init_seed"] = r.null.source == "fresh_init_run_seed" ? Json(r.null.init_seed) : Json(nullptr);
  put_mean(null, "mean_gap_log_p_cheese_minus_log_p_top_right", r.null.study.gap);
  j["untrained_null"] = null;

  const auto tests = test_study(s, r.alpha), null_tests = test_study(r.null.study, r.alpha);
  const auto shuffled = shuffled_channel_null(s, r.alpha, r.shuffles, r.seed);
  // The headline: channels surviving Holm per ablation, each null beside the trained network.
  Json headline;
  for (size_t a = 0; a < s.pushes.size(); ++a) {
    std::vector<double> counts_a(shuffled[a].begin(), shuffled[a].end());
    headline[names[a]] = {
        {"trained", surviving(tests[a])},
        {"untrained_null", surviving(null_tests[a])},
        {"shuffled_channel_null_mean", number(finite_mean(counts_a))},
        {"shuffled_channel_null_95th_percentile", number(quantile(counts_a, 0.95))},
        // The share of shuffles with at least as many survivors (+1 corrected).
        {"shuffled_channel_null_p", number(empirical_p_greater(static_cast<double>(surviving(tests[a])), counts_a))}};
  }
  j["channels_surviving_holm"] = headline;
  Json by_ablation;
  for (size_t a = 0; a < s.pushes.size(); ++a)
    by_ablation[names[a]] = ablation_json(r, a, tests[a], null_tests[a], shuffled[a]);
  j["ablations"] = by_ablation;
  return dump(j);
}

std::string pushes_svg(const PushReport& r) {
  const PushStudy& s = r.trained;
  const auto tests = test_study(s, r.alpha);
  BarChart chart;
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "%g", r.alpha);
  chart.title = "Channel pushes at the decision square, " + s.layer + " (" + std::to_string(s.mazes) + " mazes)";
  chart.x_label = std::string("channel (* : Holm-adjusted p < ") + alpha + " under at least one ablation)";
  chart.y_label = "push toward cheese: change of log P(cheese) - log P(top-right)";
  for (const auto& a : s.pushes) chart.series.push_back(ablation_name(a.ablation) + " ablation");
  const size_t channels = s.pushes.empty() ? 0 : s.pushes.front().by_channel.size();
  for (size_t c = 0; c < channels; ++c) {
    bool marked = false;
    for (const auto& t : tests) marked = marked || t[c].verdict != Verdict::kNone;
    const std::string group = std::to_string(c) + (marked ? "*" : "");
    chart.groups.push_back(group);
    for (size_t a = 0; a < s.pushes.size(); ++a) chart.samples[{group, chart.series[a]}] = s.pushes[a].by_channel[c];
  }
  return bar_chart_svg(chart);
}

}  // namespace shardlab::analysis
