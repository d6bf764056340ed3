#pragma once
// A line/scatter plot of named curves with a legend (PPL vs bits, masses, memory vs length).
#include "qcustomplot_include.h"

#include <QVector>

namespace skvq::gui {

class CurvePlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit CurvePlot(QWidget* parent = nullptr);
  void setTitles(const QString& title, const QString& xTitle, const QString& yTitle);
  void setLogX(bool log);
  void clearCurves();
  /// Adds a curve; points only (no connecting line) when `pointsOnly`. Labels, when given,
  /// are drawn next to each point.
  void addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                const QColor& colour, bool pointsOnly = false, const QStringList& labels = {});
  /// Rescales both axes to the data (with a margin) and replots.
  void rescale();
  int curveCount() const { return graphCount(); }
  QVector<double> curveX(int i) const;
  QVector<double> curveY(int i) const;

 private:
  QCPTextElement* title_ = nullptr;
};

}  // namespace skvq::gui
