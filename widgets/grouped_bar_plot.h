#pragma once
// Grouped bars: one bar per series for each category (e.g. per-group quantization error
// plain / reorder / reorder+clip).
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

 private:
  QCPBarsGroup* group_ = nullptr;
  QVector<QCPBars*> bars_;
  QCPTextElement* title_ = nullptr;
};

}  // namespace skvq::gui
