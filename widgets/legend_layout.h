#pragma once
// Keeps a legend that sits in its own layout cell beside the axes at its natural height, at
// the top of that cell, instead of stretched (items spread) over the whole plot height.
class QCustomPlot;

namespace skvq::gui {

/// Moves `plot->legend` from its plot-layout cell into a column of that cell: the legend on
/// top, an empty stretching element below. Does nothing when the legend is not a direct
/// element of the plot layout (inset legends stay as they are).
void stack_legend_at_top(QCustomPlot* plot);

/// Moves an inset legend (inside the axis rect, over the data) into a cell right of the axis
/// rect, stacked at the top. Does nothing when the legend is not inset.
void move_legend_outside(QCustomPlot* plot);

}  // namespace skvq::gui
