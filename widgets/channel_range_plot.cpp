#include "channel_range_plot.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "colour_scale.h"
#include "legend_layout.h"
#include "plot_export.h"
#include "plot_tooltip.h"

namespace skvq::gui {

ChannelRangePlot::ChannelRangePlot(QWidget* parent) : QCustomPlot(parent) {
  xAxis->setLabel(tr("channel"));
  yAxis->setLabel(tr("value"));
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  axisRect()->insetLayout()->take(legend);
  plotLayout()->addElement(0, 1, legend);
  plotLayout()->setColumnStretchFactor(1, 0.001);
  stack_legend_at_top(this);
  setMinimumSize(300, 200);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setMouseTracking(true);
  add_export_menu(this, [this] { return csv(); });
}

QString ChannelRangePlot::channelLine(int j) const {
  const int c = order_[j];
  const ChannelRanges& r = ranges_;
  return QStringList{QString::number(j), QString::number(c),
                     r.labels.size() > c ? QString::number(r.labels[c]) : QString(),
                     QString::number(r.min[c], 'g', 6), QString::number(r.max[c], 'g', 6),
                     r.absmax.size() > c ? QString::number(r.absmax[c], 'g', 6) : QString()}
      .join(QLatin1Char(','));
}

QString ChannelRangePlot::csv() const {
  QStringList lines{QStringLiteral("position,channel,cluster,min,max,absmax")};
  for (int j = 0; j < order_.size(); ++j) lines << channelLine(j);
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

QString ChannelRangePlot::toolTipAt(const QPoint& pixel) const {
  const int j = static_cast<int>(std::lround(xAxis->pixelToCoord(pixel.x())));
  if (j < 0 || j >= order_.size() || !axisRect()->rect().contains(pixel)) return {};
  const QStringList f = channelLine(j).split(QLatin1Char(','));
  QString tip = tr("position %1: channel %2").arg(f[0], f[1]);
  if (!f[2].isEmpty()) tip += tr(", cluster %1").arg(f[2]);
  tip += tr("\nmin %1, max %2").arg(f[3], f[4]);
  if (!f[5].isEmpty()) tip += tr("\nabsmax %1").arg(f[5]);
  return tip;
}

bool ChannelRangePlot::event(QEvent* e) {
  if (handle_plot_tooltip(this, e, [this](const QPoint& p) { return toolTipAt(p); })) return true;
  return QCustomPlot::event(e);
}

void ChannelRangePlot::setChannels(const ChannelRanges& r, bool reordered, const QString& title) {
  clearPlottables();
  clearItems();
  if (plotLayout()->rowCount() > 1) {
    plotLayout()->removeAt(0);
    plotLayout()->simplify();
  }
  const int n = r.min.size();
  ranges_ = r;
  order_.resize(n);
  for (int j = 0; j < n; ++j) order_[j] = (reordered && r.perm.size() == n) ? r.perm[j] : j;
  boundaries_.clear();
  if (reordered && r.offsets.size() > 1) {
    for (int i = 1; i + 1 < r.offsets.size(); ++i) boundaries_.push_back(r.offsets[i]);
  } else if (r.group_size > 0) {
    for (int b = r.group_size; b < n; b += r.group_size) boundaries_.push_back(b);
  }
  // One graph (centre points + error bars spanning min..max) per cluster.
  std::map<int, std::pair<QVector<double>, QVector<double>>> centres;
  std::map<int, QVector<double>> halves;
  QVector<double> ax, ay;
  low_ = n ? r.min[0] : 0;
  high_ = n ? r.max[0] : 0;
  for (int j = 0; j < n; ++j) {
    const int c = order_[j];
    const int label = r.labels.size() == n ? r.labels[c] : 0;
    centres[label].first.push_back(j);
    centres[label].second.push_back(0.5 * (r.min[c] + r.max[c]));
    halves[label].push_back(0.5 * (r.max[c] - r.min[c]));
    low_ = std::min(low_, r.min[c]);
    high_ = std::max(high_, r.max[c]);
    if (r.absmax.size() == n) {
      ax.push_back(j);
      ay.push_back(r.absmax[c]);
      high_ = std::max(high_, r.absmax[c]);
    }
  }
  for (auto& [label, xy] : centres) {
    QCPGraph* g = addGraph();
    g->setLineStyle(QCPGraph::lsNone);
    const QColor colour = cluster_colour(label);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 3));
    g->setData(xy.first, xy.second, true);
    g->setName(tr("cluster %1").arg(label));
    auto* bars = new QCPErrorBars(xAxis, yAxis);
    bars->setDataPlottable(g);
    bars->setData(halves[label]);
    bars->setPen(QPen(colour, 2));
    bars->setWhiskerWidth(0);
    bars->removeFromLegend();
  }
  if (!ax.isEmpty()) {
    QCPGraph* g = addGraph();
    g->setLineStyle(QCPGraph::lsNone);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssPlus, QColor(40, 40, 40), 5));
    g->setData(ax, ay, true);
    g->setName(tr("absmax"));
  }
  for (int b : boundaries_) {
    auto* line = new QCPItemStraightLine(this);
    line->point1->setCoords(b - 0.5, 0);
    line->point2->setCoords(b - 0.5, 1);
    line->setPen(QPen(QColor(120, 120, 120), 1, Qt::DashLine));
  }
  if (!title.isEmpty()) {
    plotLayout()->insertRow(0);
    plotLayout()->addElement(0, 0, new QCPTextElement(this, title, QFont(font().family(), 10, QFont::Bold)));
  }
  xAxis->setRange(-1, std::max(1, n));
  const double pad = 0.05 * std::max(1e-6, high_ - low_);
  yAxis->setRange(low_ - pad, high_ + pad);
  xAxis->setLabel(reordered ? tr("channel (reordered)") : tr("channel (original order)"));
  replot();
}

}  // namespace skvq::gui
