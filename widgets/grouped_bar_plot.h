#pragma once
// Grouped bars: one bar per series for each category (e.g. per-group quantization error
// plain / reorder / reorder+clip, or KV bytes per token per configuration). Every category is
// labelled (rotated when there are many), tooltips give exact values, clicking a bar emits its
// category, and the right-click menu saves PNG/SVG or copies CSV.
#include "qcustomplot_include.h"

#include <QStringList>
#include <QVector>

namespace skvq::gui {

class GroupedBarPlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit GroupedBarPlot(QWidget* parent = nullptr);
  void setTitles(const QString& title, const QString& xTitle, const QString& yTitle);
  /// series[s][c] is the bar of series s in category c.
  void setBars(const QStringList& categories, const QStringList& seriesNames,
               const QVector<QVector<double>>& series);
  int seriesCount() const { return static_cast<int>(bars_.size()); }
  QVector<double> seriesValues(int s) const;
  const QStringList& categories() const { return categories_; }
  /// The category whose bar group contains `pixel` (within half a tick either side), or -1.
  int categoryAt(const QPoint& pixel) const;
  /// Pixel x of category `c`'s centre and y of the axis (for tests and tooltips).
  QPoint pixelOf(int category) const;
  /// Tooltip for the category at `pixel`: its name and each series' value; empty when none.
  QString toolTipAt(const QPoint& pixel) const;
  /// Marks category `c` with a darker outline (-1 clears).
  void highlight(int category);
  /// category,<series 1>,<series 2>,... one line per category.
  QString csv() const;

 Q_SIGNALS:
  void categoryClicked(int category);

 protected:
  bool event(QEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  QCPBarsGroup* group_ = nullptr;
  QVector<QCPBars*> bars_;
  QStringList categories_, seriesNames_;
  QVector<QVector<double>> values_;
  QCPItemRect* mark_ = nullptr;
  QCPTextElement* title_ = nullptr;
};

}  // namespace skvq::gui
