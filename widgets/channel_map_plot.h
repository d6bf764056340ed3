#pragma once
// A layer x channel overview (e.g. per-channel absmax of K for every layer at once) as a
// colour map with a labelled colour scale, per-row group boundaries (a reordered channel order
// differs per layer), tooltips with exact values, zoom/pan, click-to-select a row and the
// export menu (PNG/SVG, CSV).
#include "qcustomplot_include.h"

#include <QVector>

namespace skvq::gui {

class ChannelMapPlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit ChannelMapPlot(QWidget* parent = nullptr);
  /// values[r][c]: row r (layer), column c (channel position); rows may differ in length (the
  /// map is as wide as the longest, missing cells empty). channels[r][c] names the original
  /// channel drawn at position c (empty: identity). `source` (run id or calibration) goes into
  /// every tooltip. Rescales axes and colour range to the data and replots.
  void setMap(const QVector<QVector<double>>& values, const QVector<QVector<int>>& channels,
              const QString& title, const QString& valueLabel, const QString& source);
  /// Dashed separators before the given column positions, per row (cluster group starts).
  void setBoundaries(const QVector<QVector<int>>& perRow);
  int rows() const { return static_cast<int>(values_.size()); }
  int cols() const { return cols_; }
  /// Value at (row, position); NaN outside or for a missing cell.
  double value(int row, int col) const;
  /// Original channel drawn at (row, position).
  int channelAt(int row, int col) const;
  const QVector<QVector<int>>& boundaries() const { return boundaries_; }
  QString valueLabel() const;
  /// Cell under a widget pixel as (col, row), or (-1, -1).
  QPoint cellAt(const QPoint& pixel) const;
  QPoint pixelOf(int row, int col) const;
  QString cellToolTip(int row, int col) const;
  /// row,position,channel,value: one line per cell.
  QString csv() const;

 Q_SIGNALS:
  void rowClicked(int row);

 protected:
  bool event(QEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  QCPColorMap* map_;
  QCPColorScale* scale_;
  QCPTextElement* title_;
  QVector<QVector<double>> values_;
  QVector<QVector<int>> channels_, boundaries_;
  QString source_;
  int cols_ = 0;
};

}  // namespace skvq::gui
