#include "legend_layout.h"

#include "qcustomplot_include.h"

namespace skvq::gui {

void stack_legend_at_top(QCustomPlot* plot) {
  QCPLegend* legend = plot->legend;
  QCPLayoutGrid* grid = plot->plotLayout();
  int row = -1, col = -1;
  for (int i = 0; i < grid->elementCount(); ++i)
    if (grid->elementAt(i) == legend) grid->indexToRowCol(i, row, col);
  if (row < 0) return;
  grid->take(legend);
  auto* column = new QCPLayoutGrid;
  grid->addElement(row, col, column);
  column->addElement(0, 0, legend);
  column->addElement(1, 0, new QCPLayoutElement(plot));
  column->setRowStretchFactor(0, 0.001);
  column->setRowStretchFactor(1, 1);
  column->setRowSpacing(0);
  column->setMargins(QMargins(0, 0, 4, 0));  // the legend's border is drawn on its outer rect
  legend->setMaximumSize(220, QWIDGETSIZE_MAX);
}

void move_legend_outside(QCustomPlot* plot) {
  QCPLayoutInset* inset = plot->axisRect()->insetLayout();
  if (!inset->take(plot->legend)) return;
  QCPLayoutGrid* grid = plot->plotLayout();
  int row = 0, col = 0;
  for (int i = 0; i < grid->elementCount(); ++i)
    if (grid->elementAt(i) == plot->axisRect()) grid->indexToRowCol(i, row, col);
  grid->addElement(row, col + 1, plot->legend);
  grid->setColumnStretchFactor(col + 1, 0.001);
  stack_legend_at_top(plot);
}

}  // namespace skvq::gui
