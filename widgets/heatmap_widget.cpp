#include "heatmap_widget.h"

#include <QHelpEvent>
#include <QPainter>
#include <QToolTip>
#include <cmath>

#include "colour_scale.h"

namespace skvq::gui {

namespace {
constexpr int kLeft = 70, kBottom = 48, kTop = 28, kRight = 70;
}

HeatmapWidget::HeatmapWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
}

void HeatmapWidget::setGrid(const QStringList& rowLabels, const QStringList& colLabels,
                            const QVector<double>& values, const QStringList& tooltips) {
  rowLabels_ = rowLabels;
  colLabels_ = colLabels;
  values_ = values;
  values_.resize(rowLabels.size() * colLabels.size(), std::nan(""));
  tooltips_ = tooltips;
  update();
}

void HeatmapWidget::setRange(double lo, double hi) {
  lo_ = lo;
  hi_ = hi > lo ? hi : lo + 1e-9;
  update();
}

void HeatmapWidget::setDiverging(bool diverging) {
  diverging_ = diverging;
  update();
}

void HeatmapWidget::setTitles(const QString& title, const QString& xTitle, const QString& yTitle) {
  title_ = title;
  xTitle_ = xTitle;
  yTitle_ = yTitle;
  update();
}

double HeatmapWidget::value(int row, int col) const {
  if (row < 0 || col < 0 || row >= rows() || col >= cols()) return std::nan("");
  return values_[row * cols() + col];
}

QString HeatmapWidget::cellToolTip(int row, int col) const {
  const int i = row * cols() + col;
  if (row < 0 || col < 0 || row >= rows() || col >= cols()) return {};
  QString head = QStringLiteral("%1 = %2, %3 = %4\nvalue: %5")
                     .arg(yTitle_, rowLabels_[row], xTitle_, colLabels_[col])
                     .arg(std::isnan(values_[i]) ? QStringLiteral("-")
                                                 : QString::number(values_[i], 'g', 4));
  if (i < tooltips_.size() && !tooltips_[i].isEmpty()) head += QLatin1Char('\n') + tooltips_[i];
  return head;
}

QColor HeatmapWidget::cellColour(int row, int col) const {
  const double v = value(row, col);
  if (std::isnan(v)) return QColor(220, 220, 220);
  if (diverging_) {
    const double m = std::max(std::abs(lo_), std::abs(hi_));
    return diverging_colour(m > 0 ? v / m : 0);
  }
  return sequential_colour((v - lo_) / (hi_ - lo_));
}

QRect HeatmapWidget::gridRect() const {
  return QRect(kLeft, kTop, std::max(1, width() - kLeft - kRight),
               std::max(1, height() - kTop - kBottom));
}

QRect HeatmapWidget::cellRect(int row, int col) const {
  const QRect g = gridRect();
  if (rows() == 0 || cols() == 0) return {};
  const int x0 = g.left() + g.width() * col / cols(), x1 = g.left() + g.width() * (col + 1) / cols();
  const int y0 = g.top() + g.height() * row / rows(), y1 = g.top() + g.height() * (row + 1) / rows();
  return QRect(QPoint(x0, y0), QPoint(x1 - 1, y1 - 1));
}

QPoint HeatmapWidget::cellAt(const QPoint& pos) const {
  const QRect g = gridRect();
  if (!g.contains(pos) || rows() == 0 || cols() == 0) return {-1, -1};
  const int col = (pos.x() - g.left()) * cols() / g.width();
  const int row = (pos.y() - g.top()) * rows() / g.height();
  return {std::min(col, cols() - 1), std::min(row, rows() - 1)};
}

QString HeatmapWidget::toolTipAt(const QPoint& pos) const {
  const QPoint c = cellAt(pos);
  return c.x() < 0 ? QString() : cellToolTip(c.y(), c.x());
}

bool HeatmapWidget::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const QString text = toolTipAt(help->pos());
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(help->globalPos(), text, this);
    return true;
  }
  return QWidget::event(event);
}

void HeatmapWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing, false);
  const QRect g = gridRect();
  QFont small = font();
  small.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.85));
  p.setFont(small);
  if (!title_.isEmpty()) {
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    p.drawText(QRect(0, 4, width(), kTop - 6), Qt::AlignCenter, title_);
    p.setFont(small);
  }
  if (rows() == 0 || cols() == 0) {
    p.drawText(g, Qt::AlignCenter, tr("no data"));
    return;
  }
  for (int r = 0; r < rows(); ++r) {
    for (int c = 0; c < cols(); ++c) {
      const QRect cell = cellRect(r, c);
      const QColor colour = cellColour(r, c);
      p.fillRect(cell, colour);
      const double v = value(r, c);
      if (showValues_ && !std::isnan(v) && cell.width() >= 34 && cell.height() >= 14) {
        p.setPen(colour.lightnessF() > 0.55 ? Qt::black : Qt::white);
        p.drawText(cell, Qt::AlignCenter, QString::number(v, 'f', std::abs(v) >= 10 ? 1 : 2));
      }
    }
  }
  p.setPen(palette().color(QPalette::Text));
  // Row labels on the left, column labels below (thinned when crowded).
  const int rowStep = std::max(1, rows() * 14 / std::max(1, g.height()));
  for (int r = 0; r < rows(); r += rowStep) {
    const QRect cell = cellRect(r, 0);
    p.drawText(QRect(0, cell.top(), kLeft - 6, cell.height()), Qt::AlignRight | Qt::AlignVCenter,
               rowLabels_[r]);
  }
  const int colStep = std::max(1, cols() * 40 / std::max(1, g.width()));
  for (int c = 0; c < cols(); c += colStep) {
    const QRect cell = cellRect(0, c);
    p.drawText(QRect(cell.left() - 20, g.bottom() + 2, cell.width() + 40, 16), Qt::AlignCenter,
               colLabels_[c]);
  }
  p.drawText(QRect(g.left(), g.bottom() + 20, g.width(), 18), Qt::AlignCenter, xTitle_);
  p.save();
  p.translate(12, g.center().y());
  p.rotate(-90);
  p.drawText(QRect(-g.height() / 2, -8, g.height(), 16), Qt::AlignCenter, yTitle_);
  p.restore();
  // Colour bar.
  const QRect bar(g.right() + 14, g.top(), 14, g.height());
  for (int y = 0; y < bar.height(); ++y) {
    const double t = 1.0 - static_cast<double>(y) / std::max(1, bar.height() - 1);
    const double v = lo_ + t * (hi_ - lo_);
    QColor colour;
    if (diverging_) {
      const double m = std::max(std::abs(lo_), std::abs(hi_));
      colour = diverging_colour(m > 0 ? v / m : 0);
    } else {
      colour = sequential_colour(t);
    }
    p.setPen(colour);
    p.drawLine(bar.left(), bar.top() + y, bar.right(), bar.top() + y);
  }
  p.setPen(palette().color(QPalette::Text));
  p.drawRect(bar);
  p.drawText(QRect(bar.right() + 3, bar.top() - 6, kRight, 14), Qt::AlignLeft,
             QString::number(hi_, 'g', 3));
  p.drawText(QRect(bar.right() + 3, bar.bottom() - 8, kRight, 14), Qt::AlignLeft,
             QString::number(lo_, 'g', 3));
}

}  // namespace skvq::gui
