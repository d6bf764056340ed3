#include "grouped_bar_plot.h"

#include <algorithm>

#include "colour_scale.h"

namespace skvq::gui {

GroupedBarPlot::GroupedBarPlot(QWidget* parent) : QCustomPlot(parent) {
  group_ = new QCPBarsGroup(this);
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  setMinimumSize(260, 180);
}

void GroupedBarPlot::setTitles(const QString& title, const QString& xTitle, const QString& yTitle) {
  if (!title_) {
    plotLayout()->insertRow(0);
    title_ = new QCPTextElement(this, title, QFont(font().family(), 10, QFont::Bold));
    plotLayout()->addElement(0, 0, title_);
  }
  title_->setText(title);
  xAxis->setLabel(xTitle);
  yAxis->setLabel(yTitle);
}

void GroupedBarPlot::setBars(const QStringList& categories, const QStringList& seriesNames,
                             const QVector<QVector<double>>& series) {
  clearPlottables();
  group_->clear();
  bars_.clear();
  QVector<double> ticks;
  for (int c = 0; c < categories.size(); ++c) ticks.push_back(c);
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int step = std::max<int>(1, static_cast<int>(categories.size()) / 16);
  for (int c = 0; c < categories.size(); c += step) ticker->addTick(c, categories[c]);
  xAxis->setTicker(ticker);
  double high = 0;
  const double width = 0.8 / std::max<qsizetype>(1, series.size());
  for (int s = 0; s < series.size(); ++s) {
    auto* b = new QCPBars(xAxis, yAxis);
    b->setName(s < seriesNames.size() ? seriesNames[s] : QString::number(s));
    const QColor colour = cluster_colour(s);
    b->setBrush(colour);
    b->setPen(QPen(colour.darker(130)));
    b->setWidth(width);
    QVector<double> v = series[s];
    v.resize(categories.size());
    b->setData(ticks, v, true);
    b->setBarsGroup(group_);
    bars_.push_back(b);
    for (double x : v) high = std::max(high, x);
  }
  xAxis->setRange(-0.6, std::max<qsizetype>(1, categories.size()) - 0.4);
  yAxis->setRange(0, high > 0 ? high * 1.1 : 1);
  replot();
}

QVector<double> GroupedBarPlot::seriesValues(int s) const {
  QVector<double> out;
  for (auto it = bars_[s]->data()->constBegin(); it != bars_[s]->data()->constEnd(); ++it)
    out.push_back(it->value);
  return out;
}

}  // namespace skvq::gui
