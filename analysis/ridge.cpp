#include "analysis/ridge.h"

namespace shardlab::analysis {

Eigen::MatrixXd ridge_fit(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, double lambda) {
  if (x.cols() <= x.rows()) {
    Eigen::MatrixXd gram = x.transpose() * x;
    gram.diagonal().array() += lambda;
    return gram.ldlt().solve(x.transpose() * y);
  }
  Eigen::MatrixXd kernel = x * x.transpose();
  kernel.diagonal().array() += lambda;
  return x.transpose() * kernel.ldlt().solve(y);
}

}  // namespace shardlab::analysis
