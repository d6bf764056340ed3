#include "pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace skvq::gui {

QVector<int> pareto_frontier(const QVector<double>& x, const QVector<double>& y) {
  const int n = static_cast<int>(std::min(x.size(), y.size()));
  QVector<int> order;
  for (int i = 0; i < n; ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) order.push_back(i);
  // By x, then y, then index: a point is on the frontier iff its y is below every y seen so far.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return x[a] != x[b] ? x[a] < x[b] : y[a] < y[b];
  });
  QVector<int> out;
  double best = std::numeric_limits<double>::infinity();
  for (int i : order)
    if (y[i] < best) {
      out.push_back(i);
      best = y[i];
    }
  return out;
}

}  // namespace skvq::gui
