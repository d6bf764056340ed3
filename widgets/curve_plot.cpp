#include "curve_plot.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "legend_layout.h"
#include "plot_export.h"
#include "plot_tooltip.h"

namespace skvq::gui {

CurvePlot::CurvePlot(QWidget* parent) : QCustomPlot(parent) {
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  setMinimumSize(260, 180);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setMouseTracking(true);
  add_export_menu(this, [this] { return csv(); });
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

static void set_log(QCPAxis* axis, bool log) {
  axis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (log) axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  else axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
}

void CurvePlot::setLogX(bool log) { set_log(xAxis, log); }
void CurvePlot::setLogY(bool log) { set_log(yAxis, log); }

void CurvePlot::setLegendOutside(bool outside) {
  if (outside == legendOutside_) return;
  legendOutside_ = outside;
  const int row = title_ ? 1 : 0;
  if (outside) {
    axisRect()->insetLayout()->take(legend);
    plotLayout()->addElement(row, 1, legend);
    plotLayout()->setColumnStretchFactor(1, 0.001);
    legend->setMaximumSize(220, QWIDGETSIZE_MAX);
    stack_legend_at_top(this);  // its natural height, at the top, not spread over the plot
  } else {
    if (legend->layout()) legend->layout()->take(legend);
    plotLayout()->simplify();
    axisRect()->insetLayout()->addElement(legend, Qt::AlignTop | Qt::AlignRight);
  }
}

void CurvePlot::clearCurves() {
  clearGraphs();
  clearItems();
  meta_.clear();
  ring_ = nullptr;
  highlighted_ = -1;
}

void CurvePlot::addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                         const QColor& colour, bool pointsOnly, const QStringList& labels) {
  CurveStyle style;
  style.pointsOnly = pointsOnly;
  style.tips = labels;
  addCurve(name, x, y, colour, style);
}

void CurvePlot::addCurve(const QString& name, const QVector<double>& x, const QVector<double>& y,
                         const QColor& colour, const CurveStyle& style) {
  const int n = static_cast<int>(std::min(x.size(), y.size()));
  QVector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] < x[b]; });
  QVector<double> sx, sy;
  Meta meta;
  for (int i : order) {
    sx << x[i];
    sy << y[i];
    meta.ids << (i < style.ids.size() ? style.ids[i] : qint64(-1));
    meta.tips << (i < style.tips.size() ? style.tips[i] : QString());
  }
  QCPGraph* g = addGraph();
  g->setName(name);
  QPen pen(colour, style.dashed ? 1.5 : 2);
  if (style.dashed) pen.setStyle(Qt::DashLine);
  g->setPen(pen);
  g->setLineStyle(style.pointsOnly ? QCPGraph::lsNone : QCPGraph::lsLine);
  const int size = style.markerSize > 0 ? style.markerSize : (style.pointsOnly ? 7 : 5);
  g->setScatterStyle(QCPScatterStyle(style.shape, colour, colour, size));
  g->setData(sx, sy, true);
  if (!style.inLegend) g->removeFromLegend();
  meta_.push_back(meta);
}

void CurvePlot::rescale() {
  legend->setVisible(legend->itemCount() > 0);  // no empty legend box over an empty plot
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

QVector<qint64> CurvePlot::curveIds(int i) const { return i < meta_.size() ? meta_[i].ids : QVector<qint64>{}; }

QPoint CurvePlot::pixelOf(int curve, int index) const {
  const auto it = graph(curve)->data()->at(index);
  return QPoint(static_cast<int>(std::lround(xAxis->coordToPixel(it->key))),
                static_cast<int>(std::lround(yAxis->coordToPixel(it->value))));
}

QPair<int, int> CurvePlot::pointAt(const QPoint& pixel) const {
  QPair<int, int> best{-1, -1};
  double bestDist = 8.0 * 8.0 + 1e-9;
  for (int c = 0; c < graphCount(); ++c) {
    if (!graph(c)->visible()) continue;
    for (int i = 0; i < graph(c)->dataCount(); ++i) {
      const auto it = graph(c)->data()->at(i);
      if (!std::isfinite(it->key) || !std::isfinite(it->value)) continue;
      const double dx = xAxis->coordToPixel(it->key) - pixel.x();
      const double dy = yAxis->coordToPixel(it->value) - pixel.y();
      const double d = dx * dx + dy * dy;
      if (d < bestDist) {  // strict: an equally near point of a later curve does not win
        bestDist = d;
        best = {c, i};
      }
    }
  }
  return best;
}

QString CurvePlot::toolTipAt(const QPoint& pixel) const {
  const auto [c, i] = pointAt(pixel);
  if (c < 0) return {};
  const auto it = graph(c)->data()->at(i);
  QStringList lines;
  const QString tip = c < meta_.size() ? meta_[c].tips.value(i) : QString();
  if (!tip.isEmpty()) lines << tip;
  lines << graph(c)->name();
  lines << QStringLiteral("%1 = %2").arg(xAxis->label().isEmpty() ? QStringLiteral("x") : xAxis->label()).arg(it->key, 0, 'g', 6);
  lines << QStringLiteral("%1 = %2").arg(yAxis->label().isEmpty() ? QStringLiteral("y") : yAxis->label()).arg(it->value, 0, 'g', 6);
  const qint64 id = c < meta_.size() ? meta_[c].ids.value(i, -1) : -1;
  if (id >= 0) lines << tr("run %1").arg(id);
  return lines.join(QLatin1Char('\n'));
}

bool CurvePlot::highlight(qint64 id) {
  highlighted_ = -1;
  if (ring_) {
    removeItem(ring_);
    ring_ = nullptr;
  }
  for (int c = 0; id >= 0 && c < meta_.size(); ++c) {
    const int i = static_cast<int>(meta_[c].ids.indexOf(id));
    if (i < 0) continue;
    const auto it = graph(c)->data()->at(i);
    ring_ = new QCPItemTracer(this);
    ring_->setStyle(QCPItemTracer::tsCircle);
    ring_->setSize(16);
    ring_->setPen(QPen(Qt::black, 2));
    ring_->position->setCoords(it->key, it->value);
    highlighted_ = id;
    break;
  }
  replot();
  return highlighted_ >= 0;
}

QString CurvePlot::csv() const {
  QStringList lines{QStringLiteral("curve,x,y,run_id,label")};
  for (int c = 0; c < graphCount(); ++c)
    for (int i = 0; i < graph(c)->dataCount(); ++i) {
      const auto it = graph(c)->data()->at(i);
      const qint64 id = c < meta_.size() ? meta_[c].ids.value(i, -1) : -1;
      lines << QStringList{csv_field(graph(c)->name()), QString::number(it->key, 'g', 10),
                           QString::number(it->value, 'g', 10), id >= 0 ? QString::number(id) : QString(),
                           csv_field(c < meta_.size() ? meta_[c].tips.value(i) : QString())}
                   .join(QLatin1Char(','));
    }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

bool CurvePlot::event(QEvent* e) {
  if (handle_plot_tooltip(this, e, [this](const QPoint& p) { return toolTipAt(p); })) return true;
  return QCustomPlot::event(e);
}

void CurvePlot::mousePressEvent(QMouseEvent* e) {
  if (e->button() == Qt::LeftButton) {
    const auto [c, i] = pointAt(e->pos());
    if (c >= 0 && c < meta_.size() && meta_[c].ids.value(i, -1) >= 0) {
      const qint64 id = meta_[c].ids[i];
      highlight(id);
      Q_EMIT pointClicked(id);
    }
  }
  QCustomPlot::mousePressEvent(e);
}

}  // namespace skvq::gui
