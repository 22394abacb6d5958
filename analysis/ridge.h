// Ridge regression, the probes' one solver: minimises |X b - Y|^2 + lambda |b|^2 (every column of X
// penalised alike, so an intercept column is too). Solved in whichever of the two equivalent forms is
// smaller: (X'X + lambda I) b = X'Y over features, or b = X'(XX' + lambda I)^-1 Y over rows, so a
// probe on a 64/128/128 network's 32,768-feature layer costs a (rows x rows) solve, not 8 GB.
#pragma once

#include <Eigen/Dense>

namespace shardlab::analysis {

// The coefficients (features x targets).
Eigen::MatrixXd ridge_fit(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, double lambda);

}  // namespace shardlab::analysis
