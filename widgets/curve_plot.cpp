#include "curve_plot.h"

namespace skvq::gui {

CurvePlot::CurvePlot(QWidget* parent) : QCustomPlot(parent) {
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  setMinimumSize(260, 180);
}

void CurvePlot::setTitles(const QString& title, const QString& xTitle, const QString& yTitle) {
  if (!title_) {
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, title, QFont(font().family(), 10, QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
  }
  title_->setText(title);
  xAxis->setLabel(xTitle);
  yAxis->setLabel(yTitle);
}

void CurvePlot::setLogX(bool log) {
  xAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (log) xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  else xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
}

void CurvePlot::clearCurves() {
  clearGraphs();
  clearItems();
}

void CurvePlot::addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                         const QColor& colour, bool pointsOnly, const QStringList& labels) {
  QCPGraph* g = addGraph();
  g->setName(name);
  g->setPen(QPen(colour, 2));
  g->setLineStyle(pointsOnly ? QCPGraph::lsNone : QCPGraph::lsLine);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, colour, colour, pointsOnly ? 7 : 5));
  g->setData(x, y, !pointsOnly);
  for (int i = 0; i < labels.size() && i < x.size(); ++i) {
    auto* text = new QCPItemText(this);
    text->position->setCoords(x[i], y[i]);
    text->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    text->setText(QStringLiteral(" ") + labels[i]);
    text->setFont(QFont(font().family(), 7));
    text->setColor(colour.darker(130));
  }
}

void CurvePlot::rescale() {
  rescaleAxes();
  for (QCPAxis* axis : {xAxis, yAxis}) {
    QCPRange r = axis->range();
    if (axis->scaleType() == QCPAxis::stLogarithmic) {
      axis->setRange(r.lower / 1.3, r.upper * 1.3);
    } else {
      const double pad = r.size() > 0 ? 0.08 * r.size() : std::max(1e-3, std::abs(r.lower) * 0.1);
      axis->setRange(r.lower - pad, r.upper + pad);
    }
  }
  replot();
}

QVector<double> CurvePlot::curveX(int i) const {
  QVector<double> out;
  for (auto it = graph(i)->data()->constBegin(); it != graph(i)->data()->constEnd(); ++it)
    out.push_back(it->key);
  return out;
}

QVector<double> CurvePlot::curveY(int i) const {
  QVector<double> out;
  for (auto it = graph(i)->data()->constBegin(); it != graph(i)->data()->constEnd(); ++it)
    out.push_back(it->value);
  return out;
}

}  // namespace skvq::gui
