// Summaries of a few numbers (one per seed) as tables report them: the mean and the Student-t 95%
// interval of the mean, over the finite values only (a diverged seed's NaN is left out, not
// averaged in).
#pragma once

#include <string>
#include <vector>

namespace shardlab {

// The finite ones of `values`, in order.
std::vector<double> finite_values(const std::vector<double>& values);

// Mean of the finite values; NaN when there are none.
double finite_mean(const std::vector<double>& values);

// Half-width of the Student-t 95% interval of the mean of the finite values (t(0.975, n-1) s / sqrt(n));
// 0 for fewer than two.
double t_interval95(const std::vector<double>& values);

// "mean ± half-width" of the finite values with `decimals` digits after the point; "-" when there
// are none.
std::string mean_and_interval_text(const std::vector<double>& values, int decimals);

// Training curves' smoothing: at each index i, the mean of the finite values among the last
// `window` ones (i - window + 1 .. i), each weighted by weights[j] (the episodes finished in that
// update, so an update with few episodes counts little; a non-finite weight counts 0); NaN where
// those weights sum to 0. Empty `weights`: every weight is 1.
std::vector<double> trailing_mean(const std::vector<double>& values, const std::vector<double>& weights, int window);

// A CSV cell: 6 significant digits, empty when not finite.
std::string csv_number(double value);

}  // namespace shardlab
