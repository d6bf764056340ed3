#pragma once
// A line/scatter plot of named curves with a legend (PPL vs bits, masses, memory vs length):
// tooltips with exact values, click-to-select by id, a highlight ring, zoom/pan, a log y axis,
// and a right-click menu to save as PNG/SVG or copy the data as CSV.
#include "qcustomplot_include.h"

#include <QVector>

namespace skvq::gui {

/// How one curve is drawn and what its points mean.
struct CurveStyle {
  QCPScatterStyle::ScatterShape shape = QCPScatterStyle::ssCircle;
  bool pointsOnly = false;   ///< markers without a connecting line
  bool dashed = false;       ///< dashed line (peers, frontiers)
  bool inLegend = true;
  int markerSize = 0;        ///< 0: 7 for points only, 5 for lines
  QVector<qint64> ids;       ///< per point: the run id (pointClicked, highlight); empty = none
  QStringList tips;          ///< per point: first line of the tooltip (e.g. the configuration)
};

class CurvePlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit CurvePlot(QWidget* parent = nullptr);
  void setTitles(const QString& title, const QString& xTitle, const QString& yTitle);
  void setLogX(bool log);
  void setLogY(bool log);
  /// Legend in a column right of the axes (outside the data) or inset at the top right.
  void setLegendOutside(bool outside);
  void clearCurves();
  /// Adds a curve; points only (no connecting line) when `pointsOnly`. Labels, when given,
  /// become the points' tooltips (drawn text would overlap).
  void addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                const QColor& colour, bool pointsOnly = false, const QStringList& labels = {});
  /// Adds a curve drawn as `style` says. Points are kept in x order together with their ids/tips.
  void addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                const QColor& colour, const CurveStyle& style);
  /// Rescales both axes to the data (with a margin) and replots.
  void rescale();
  int curveCount() const { return graphCount(); }
  QVector<double> curveX(int i) const;
  QVector<double> curveY(int i) const;
  QVector<qint64> curveIds(int i) const;
  /// The point nearest `pixel` within 8 px: {curve, index}; {-1, -1} when none. Of points at
  /// the same distance the earliest curve wins.
  QPair<int, int> pointAt(const QPoint& pixel) const;
  /// Tooltip text for the point nearest `pixel` (empty when none): tip, curve, x, y, run id.
  QString toolTipAt(const QPoint& pixel) const;
  /// Pixel position of point `index` of curve `curve`.
  QPoint pixelOf(int curve, int index) const;
  /// Draws a ring around the first point whose id is `id` (no ring for -1 or an unknown id).
  /// Returns true when a point was found.
  bool highlight(qint64 id);
  qint64 highlighted() const { return highlighted_; }
  /// The data as CSV: curve,x,y,run_id,label (one line per point, header first).
  QString csv() const;

 Q_SIGNALS:
  /// A point with a run id was clicked.
  void pointClicked(qint64 runId);

 protected:
  bool event(QEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;

 private:
  struct Meta {
    QVector<qint64> ids;
    QStringList tips;
  };
  QCPTextElement* title_ = nullptr;
  QVector<Meta> meta_;  // per graph, in x order
  QCPItemTracer* ring_ = nullptr;
  qint64 highlighted_ = -1;
  bool legendOutside_ = false;
};

}  // namespace skvq::gui
