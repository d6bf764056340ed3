#include "channel_map_plot.h"

#include <algorithm>
#include <cmath>

#include "colour_scale.h"
#include "plot_export.h"
#include "plot_tooltip.h"

namespace skvq::gui {

ChannelMapPlot::ChannelMapPlot(QWidget* parent) : QCustomPlot(parent) {
  setMinimumSize(300, 200);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setMouseTracking(true);
  plotLayout()->insertRow(0);
  title_ = new QCPTextElement(this, QString(), QFont(font().family(), 10, QFont::Bold));
  plotLayout()->addElement(0, 0, title_);
  map_ = new QCPColorMap(xAxis, yAxis);
  map_->setInterpolate(false);
  scale_ = new QCPColorScale(this);
  plotLayout()->addElement(1, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->setBarWidth(14);
  map_->setColorScale(scale_);
  QCPColorGradient gradient;
  gradient.clearColorStops();
  for (double t : {0.0, 0.25, 0.5, 0.75, 1.0}) gradient.setColorStopAt(t, sequential_colour(t));
  gradient.setNanHandling(QCPColorGradient::nhNanColor);
  gradient.setNanColor(QColor(220, 220, 220));
  map_->setGradient(gradient);
  auto* margins = new QCPMarginGroup(this);
  axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
  QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
  ticker->setTickStep(1);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  yAxis->setTicker(ticker);
  yAxis->setRangeReversed(true);  // layer 0 on top
  yAxis->setLabel(tr("layer"));
  xAxis->setLabel(tr("channel"));
  add_export_menu(this, [this] { return csv(); });
}

void ChannelMapPlot::setMap(const QVector<QVector<double>>& values, const QVector<QVector<int>>& channels,
                            const QString& title, const QString& valueLabel, const QString& source) {
  values_ = values;
  channels_ = channels;
  source_ = source;
  cols_ = 0;
  for (const auto& row : values_) cols_ = std::max(cols_, static_cast<int>(row.size()));
  const int n = rows();
  map_->data()->setSize(std::max(1, cols_), std::max(1, n));
  map_->data()->setRange(QCPRange(0, std::max(0, cols_ - 1)), QCPRange(0, std::max(0, n - 1)));
  for (int r = 0; r < std::max(1, n); ++r)
    for (int c = 0; c < std::max(1, cols_); ++c) map_->data()->setCell(c, r, value(r, c));
  title_->setText(title);
  scale_->axis()->setLabel(valueLabel);
  map_->rescaleDataRange(true);
  xAxis->setRange(-0.5, std::max(1, cols_) - 0.5);
  yAxis->setRange(-0.5, std::max(1, n) - 0.5);
  setBoundaries({});
}

void ChannelMapPlot::setBoundaries(const QVector<QVector<int>>& perRow) {
  clearItems();
  boundaries_ = perRow;
  for (int r = 0; r < perRow.size(); ++r)
    for (int b : perRow[r]) {
      auto* line = new QCPItemLine(this);
      line->start->setCoords(b - 0.5, r - 0.5);
      line->end->setCoords(b - 0.5, r + 0.5);
      line->setPen(QPen(Qt::white, 1.5));
    }
  replot();
}

double ChannelMapPlot::value(int row, int col) const {
  if (row < 0 || row >= rows() || col < 0 || col >= values_[row].size()) return std::nan("");
  return values_[row][col];
}

int ChannelMapPlot::channelAt(int row, int col) const {
  if (row >= 0 && row < channels_.size() && col >= 0 && col < channels_[row].size()) return channels_[row][col];
  return col;
}

QString ChannelMapPlot::valueLabel() const { return scale_->axis()->label(); }

QPoint ChannelMapPlot::cellAt(const QPoint& pixel) const {
  if (!axisRect()->rect().contains(pixel)) return {-1, -1};
  const int c = static_cast<int>(std::lround(xAxis->pixelToCoord(pixel.x())));
  const int r = static_cast<int>(std::lround(yAxis->pixelToCoord(pixel.y())));
  if (r < 0 || r >= rows() || c < 0 || c >= cols()) return {-1, -1};
  return {c, r};
}

QPoint ChannelMapPlot::pixelOf(int row, int col) const {
  return QPoint(static_cast<int>(std::lround(xAxis->coordToPixel(col))),
                static_cast<int>(std::lround(yAxis->coordToPixel(row))));
}

QString ChannelMapPlot::cellToolTip(int row, int col) const {
  const double v = value(row, col);
  if (std::isnan(v)) return {};
  const int ch = channelAt(row, col);
  QString tip = tr("%1 %2, channel %3").arg(yAxis->label()).arg(row).arg(ch);
  if (ch != col) tip += tr(" (position %1)").arg(col);
  tip += QStringLiteral("\n%1 = %2").arg(valueLabel()).arg(v, 0, 'g', 6);
  if (!source_.isEmpty()) tip += QLatin1Char('\n') + source_;
  return tip;
}

QString ChannelMapPlot::csv() const {
  QStringList lines{QStringLiteral("%1,position,channel,%2").arg(csv_field(yAxis->label()), csv_field(valueLabel()))};
  for (int r = 0; r < rows(); ++r)
    for (int c = 0; c < values_[r].size(); ++c)
      lines << QStringLiteral("%1,%2,%3,%4").arg(r).arg(c).arg(channelAt(r, c)).arg(values_[r][c], 0, 'g', 10);
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

bool ChannelMapPlot::event(QEvent* e) {
  if (handle_plot_tooltip(this, e, [this](const QPoint& p) {
        const QPoint cell = cellAt(p);
        return cell.x() < 0 ? QString() : cellToolTip(cell.y(), cell.x());
      }))
    return true;
  return QCustomPlot::event(e);
}

void ChannelMapPlot::mousePressEvent(QMouseEvent* e) {
  if (e->button() == Qt::LeftButton) {
    const QPoint cell = cellAt(e->pos());
    if (cell.y() >= 0) Q_EMIT rowClicked(cell.y());
  }
  QCustomPlot::mousePressEvent(e);
}

}  // namespace skvq::gui
