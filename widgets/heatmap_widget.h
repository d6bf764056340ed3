#pragma once
// A grid of coloured cells (e.g. needle depth x context length) with labels, a labelled colour
// bar and a tooltip per cell; wheel zooms, drag pans, double-click resets; the right-click menu
// saves a PNG (QWidget::grab) or copies the cells as CSV.
#include <QRectF>
#include <QStringList>
#include <QVector>
#include <QWidget>

namespace skvq::gui {

class HeatmapWidget : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapWidget(QWidget* parent = nullptr);

  /// Sets the grid: values row-major [rows * cols] (NaN = empty cell), one tooltip per cell
  /// (may be empty). Labels name the rows (drawn left) and columns (drawn below).
  void setGrid(const QStringList& rowLabels, const QStringList& colLabels,
               const QVector<double>& values, const QStringList& tooltips = {});
  /// Colour range; values outside are clamped. Diverging: symmetric map around 0.
  void setRange(double lo, double hi);
  void setDiverging(bool diverging);
  void setTitles(const QString& title, const QString& xTitle, const QString& yTitle);
  /// Shows each cell's value as text when the cell is large enough.
  void setShowValues(bool show) { showValues_ = show; update(); }
  /// Label drawn beside the colour bar (what the colours mean, e.g. the metric).
  void setColourBarLabel(const QString& label);
  const QString& colourBarLabel() const { return barLabel_; }
  const QString& title() const { return title_; }

  /// The cells as CSV: row,column,value,tooltip (header first, one line per cell, row-major).
  QString csv() const;
  /// Writes the widget as drawn (QWidget::grab) to a PNG; throws std::runtime_error naming the
  /// file when it cannot be written.
  void savePng(const QString& path);
  /// Visible part of the grid in cell units (x: columns, y: rows); the whole grid unless zoomed.
  QRectF view() const;
  /// Zooms by `factor` (< 1 zooms in) around cell coordinate `centre`; resetView() shows all.
  void zoom(double factor, const QPointF& centre);
  void resetView();
  int rows() const { return rowLabels_.size(); }
  int cols() const { return colLabels_.size(); }
  double value(int row, int col) const;
  QString cellToolTip(int row, int col) const;
  QColor cellColour(int row, int col) const;
  double rangeLow() const { return lo_; }
  double rangeHigh() const { return hi_; }
  const QStringList& rowLabels() const { return rowLabels_; }
  const QStringList& colLabels() const { return colLabels_; }
  /// The cell under a widget position, or (-1, -1).
  QPoint cellAt(const QPoint& pos) const;
  QRect cellRect(int row, int col) const;
  /// Tooltip text for a widget position (empty outside the grid).
  QString toolTipAt(const QPoint& pos) const;

  QSize sizeHint() const override { return {520, 360}; }
  QSize minimumSizeHint() const override { return {200, 150}; }

 protected:
  void paintEvent(QPaintEvent* event) override;
  bool event(QEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;

 private:
  QRect gridRect() const;
  void drawColourBar(QPainter& p, const QRect& g);
  void showMenu(const QPoint& at);
  QStringList rowLabels_, colLabels_, tooltips_;
  QVector<double> values_;
  QString title_, xTitle_, yTitle_, barLabel_;
  QRectF view_;  // empty: whole grid
  QPoint dragFrom_;
  QRectF dragView_;
  double lo_ = 0, hi_ = 1;
  bool diverging_ = false, showValues_ = true;
};

}  // namespace skvq::gui
