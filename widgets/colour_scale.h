#pragma once
// Colour scales shared by the plots: a sequential map for scores and masses, a diverging map
// for differences, and distinct colours for channel clusters.
#include <QColor>

namespace skvq::gui {

/// Sequential colour for t in [0, 1] (dark blue -> green -> yellow, viridis-like).
QColor sequential_colour(double t);
/// Diverging colour for t in [-1, 1] (blue for negative, white at 0, red for positive).
QColor diverging_colour(double t);
/// A distinct colour for cluster `index` (cycles through a qualitative palette).
QColor cluster_colour(int index);

}  // namespace skvq::gui
