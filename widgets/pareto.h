#pragma once
// The lower-left Pareto frontier of a point set (fewer bits and lower perplexity are both better).
#include <QVector>

namespace skvq::gui {

/// Indices of the points (x[i], y[i]) that no other point dominates, where q dominates p when
/// q.x <= p.x and q.y <= p.y with at least one strict; sorted by x ascending. Of identical
/// points only the first index is kept; points with a NaN or infinite coordinate are ignored.
/// x and y must have the same size (extra entries of the longer one are ignored).
QVector<int> pareto_frontier(const QVector<double>& x, const QVector<double>& y);

}  // namespace skvq::gui
