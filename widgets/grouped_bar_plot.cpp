#include "grouped_bar_plot.h"

#include <algorithm>
#include <cmath>

#include "colour_scale.h"
#include "plot_export.h"
#include "plot_tooltip.h"

namespace skvq::gui {

GroupedBarPlot::GroupedBarPlot(QWidget* parent) : QCustomPlot(parent) {
  group_ = new QCPBarsGroup(this);
  legend->setVisible(true);
  legend->setFont(QFont(font().family(), 8));
  axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  setMinimumSize(260, 180);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  axisRect()->setRangeZoom(Qt::Horizontal);
  axisRect()->setRangeDrag(Qt::Horizontal);
  add_export_menu(this, [this] { return csv(); });
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
  clearItems();
  mark_ = nullptr;
  group_->clear();
  bars_.clear();
  categories_ = categories;
  seriesNames_ = seriesNames;
  values_ = series;
  QVector<double> ticks;
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  for (int c = 0; c < categories.size(); ++c) {
    ticks.push_back(c);
    ticker->addTick(c, categories[c]);
  }
  xAxis->setTicker(ticker);
  xAxis->setTickLabelRotation(categories.size() > 4 ? 35 : 0);
  xAxis->setTickLabelFont(QFont(font().family(), categories.size() > 10 ? 7 : 8));
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
    values_[s] = v;
    b->setData(ticks, v, true);
    b->setBarsGroup(group_);
    bars_.push_back(b);
    for (double x : v)
      if (std::isfinite(x)) high = std::max(high, x);
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

int GroupedBarPlot::categoryAt(const QPoint& pixel) const {
  if (categories_.isEmpty() || !axisRect()->rect().contains(pixel)) return -1;
  const double key = xAxis->pixelToCoord(pixel.x());
  const int c = static_cast<int>(std::lround(key));
  return c >= 0 && c < categories_.size() && std::abs(key - c) <= 0.45 ? c : -1;
}

QPoint GroupedBarPlot::pixelOf(int category) const {
  return QPoint(static_cast<int>(std::lround(xAxis->coordToPixel(category))),
                static_cast<int>(std::lround(yAxis->coordToPixel(yAxis->range().lower + 0.05 * yAxis->range().size()))));
}

QString GroupedBarPlot::toolTipAt(const QPoint& pixel) const {
  const int c = categoryAt(pixel);
  if (c < 0) return {};
  QStringList lines{categories_[c]};
  for (int s = 0; s < values_.size(); ++s)
    lines << QStringLiteral("%1: %2").arg(seriesNames_.value(s, QString::number(s))).arg(values_[s].value(c), 0, 'g', 6);
  return lines.join(QLatin1Char('\n'));
}

void GroupedBarPlot::highlight(int category) {
  if (mark_) {
    removeItem(mark_);
    mark_ = nullptr;
  }
  if (category >= 0 && category < categories_.size()) {
    mark_ = new QCPItemRect(this);
    mark_->setPen(QPen(Qt::black, 2));
    mark_->setBrush(Qt::NoBrush);
    mark_->topLeft->setType(QCPItemPosition::ptPlotCoords);
    mark_->bottomRight->setType(QCPItemPosition::ptPlotCoords);
    double top = 0;
    for (const auto& v : values_) top = std::max(top, v.value(category));
    mark_->topLeft->setCoords(category - 0.45, top * 1.03);
    mark_->bottomRight->setCoords(category + 0.45, 0);
  }
  replot();
}

QString GroupedBarPlot::csv() const {
  QStringList header{QStringLiteral("category")};
  for (const QString& s : seriesNames_) header << csv_field(s);
  QStringList lines{header.join(QLatin1Char(','))};
  for (int c = 0; c < categories_.size(); ++c) {
    QStringList row{csv_field(categories_[c])};
    for (const auto& v : values_) row << QString::number(v.value(c), 'g', 10);
    lines << row.join(QLatin1Char(','));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

bool GroupedBarPlot::event(QEvent* e) {
  if (handle_plot_tooltip(this, e, [this](const QPoint& p) { return toolTipAt(p); })) return true;
  return QCustomPlot::event(e);
}

void GroupedBarPlot::mousePressEvent(QMouseEvent* e) {
  if (e->button() == Qt::LeftButton) {
    const int c = categoryAt(e->pos());
    if (c >= 0) {
      highlight(c);
      Q_EMIT categoryClicked(c);
    }
  }
  QCustomPlot::mousePressEvent(e);
}

}  // namespace skvq::gui
