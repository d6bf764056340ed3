#include "heatmap_widget.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QHelpEvent>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "colour_scale.h"
#include "plot_export.h"

namespace skvq::gui {

namespace {
constexpr int kLeft = 70, kBottom = 48, kTop = 28, kRight = 70, kRightLabelled = 92;
}

HeatmapWidget::HeatmapWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setBackgroundRole(QPalette::Base);
  setAutoFillBackground(true);
  setContextMenuPolicy(Qt::CustomContextMenu);
  connect(this, &QWidget::customContextMenuRequested, this, &HeatmapWidget::showMenu);
}

void HeatmapWidget::setColourBarLabel(const QString& label) {
  barLabel_ = label;
  update();
}

QString HeatmapWidget::csv() const {
  QStringList lines{QStringLiteral("%1,%2,value,tooltip").arg(csv_field(yTitle_.isEmpty() ? QStringLiteral("row") : yTitle_),
                                                          csv_field(xTitle_.isEmpty() ? QStringLiteral("column") : xTitle_))};
  for (int r = 0; r < rows(); ++r)
    for (int c = 0; c < cols(); ++c) {
      const int i = r * cols() + c;
      lines << QStringList{csv_field(rowLabels_[r]), csv_field(colLabels_[c]),
                           std::isnan(values_[i]) ? QString() : QString::number(values_[i], 'g', 10),
                           csv_field(tooltips_.value(i))}
                   .join(QLatin1Char(','));
    }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

void HeatmapWidget::savePng(const QString& path) {
  if (!grab().save(path, "PNG"))
    throw std::runtime_error(path.toStdString() + ": could not write the heatmap (folder missing or not writable?)");
}

void HeatmapWidget::showMenu(const QPoint& at) {
  QMenu menu(this);
  menu.addAction(tr("Save as PNG…"), this, [this] {
    const QString base = objectName().isEmpty() ? QStringLiteral("heatmap") : objectName();
    const QString path = QFileDialog::getSaveFileName(this, tr("Save heatmap"), base + QStringLiteral(".png"),
                                                      QStringLiteral("PNG (*.png)"));
    if (path.isEmpty()) return;
    try {
      savePng(path);
    } catch (const std::exception& e) {
      QMessageBox::warning(this, tr("Save heatmap"), QString::fromStdString(e.what()));
    }
  });
  menu.addAction(tr("Copy data as CSV"), this, [this] { QApplication::clipboard()->setText(csv()); });
  menu.addAction(tr("Reset zoom"), this, [this] { resetView(); });
  menu.exec(mapToGlobal(at));
}

QRectF HeatmapWidget::view() const {
  return view_.isEmpty() ? QRectF(0, 0, cols(), rows()) : view_;
}

void HeatmapWidget::resetView() {
  view_ = QRectF();
  update();
}

void HeatmapWidget::zoom(double factor, const QPointF& centre) {
  if (rows() == 0 || cols() == 0) return;
  const QRectF v = view();
  const double w = std::clamp(v.width() * factor, std::min(1.0, 1.0 * cols()), 1.0 * cols());
  const double h = std::clamp(v.height() * factor, std::min(1.0, 1.0 * rows()), 1.0 * rows());
  const double fx = (centre.x() - v.left()) / v.width(), fy = (centre.y() - v.top()) / v.height();
  const double x = std::clamp(centre.x() - fx * w, 0.0, cols() - w);
  const double y = std::clamp(centre.y() - fy * h, 0.0, rows() - h);
  view_ = (w >= cols() && h >= rows()) ? QRectF() : QRectF(x, y, w, h);
  update();
}

void HeatmapWidget::wheelEvent(QWheelEvent* event) {
  const QRect g = gridRect();
  const QRectF v = view();
  const QPointF pos = event->position();
  const QPointF centre(v.left() + (pos.x() - g.left()) * v.width() / g.width(),
                       v.top() + (pos.y() - g.top()) * v.height() / g.height());
  zoom(event->angleDelta().y() > 0 ? 0.8 : 1.25, centre);
  event->accept();
}

void HeatmapWidget::mousePressEvent(QMouseEvent* event) {
  dragFrom_ = event->pos();
  dragView_ = view();
  QWidget::mousePressEvent(event);
}

void HeatmapWidget::mouseMoveEvent(QMouseEvent* event) {
  if ((event->buttons() & Qt::LeftButton) && !view_.isEmpty()) {
    const QRect g = gridRect();
    const QPoint d = event->pos() - dragFrom_;
    const double x = std::clamp(dragView_.left() - d.x() * dragView_.width() / g.width(), 0.0, cols() - dragView_.width());
    const double y = std::clamp(dragView_.top() - d.y() * dragView_.height() / g.height(), 0.0, rows() - dragView_.height());
    view_.moveTo(x, y);
    update();
  }
  QWidget::mouseMoveEvent(event);
}

void HeatmapWidget::mouseDoubleClickEvent(QMouseEvent* event) {
  resetView();
  QWidget::mouseDoubleClickEvent(event);
}

void HeatmapWidget::setGrid(const QStringList& rowLabels, const QStringList& colLabels,
                            const QVector<double>& values, const QStringList& tooltips) {
  if (rowLabels != rowLabels_ || colLabels != colLabels_) view_ = QRectF();
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
  const int right = barLabel_.isEmpty() ? kRight : kRightLabelled;
  return QRect(kLeft, kTop, std::max(1, width() - kLeft - right),
               std::max(1, height() - kTop - kBottom));
}

QRect HeatmapWidget::cellRect(int row, int col) const {
  const QRect g = gridRect();
  if (rows() == 0 || cols() == 0) return {};
  const QRectF v = view();
  auto px = [&](double c) { return g.left() + static_cast<int>(std::floor((c - v.left()) * g.width() / v.width())); };
  auto py = [&](double r) { return g.top() + static_cast<int>(std::floor((r - v.top()) * g.height() / v.height())); };
  return QRect(QPoint(px(col), py(row)), QPoint(px(col + 1) - 1, py(row + 1) - 1));
}

QPoint HeatmapWidget::cellAt(const QPoint& pos) const {
  const QRect g = gridRect();
  if (!g.contains(pos) || rows() == 0 || cols() == 0) return {-1, -1};
  const QRectF v = view();
  const int col = static_cast<int>(std::floor(v.left() + 1.0 * (pos.x() - g.left()) * v.width() / g.width()));
  const int row = static_cast<int>(std::floor(v.top() + 1.0 * (pos.y() - g.top()) * v.height() / g.height()));
  return {std::clamp(col, 0, cols() - 1), std::clamp(row, 0, rows() - 1)};
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
  const QRectF v = view();
  const int c0 = static_cast<int>(std::floor(v.left())), c1 = std::min(cols(), static_cast<int>(std::ceil(v.right())));
  const int r0 = static_cast<int>(std::floor(v.top())), r1 = std::min(rows(), static_cast<int>(std::ceil(v.bottom())));
  p.save();
  p.setClipRect(g);
  for (int r = r0; r < r1; ++r) {
    for (int c = c0; c < c1; ++c) {
      const QRect cell = cellRect(r, c);
      const QColor colour = cellColour(r, c);
      p.fillRect(cell, colour);
      const double val = value(r, c);
      if (showValues_ && !std::isnan(val) && cell.width() >= 34 && cell.height() >= 14) {
        p.setPen(colour.lightnessF() > 0.55 ? Qt::black : Qt::white);
        p.drawText(cell, Qt::AlignCenter, QString::number(val, 'f', std::abs(val) >= 10 ? 1 : 2));
      }
    }
  }
  p.restore();
  p.setPen(palette().color(QPalette::Text));
  // Row labels on the left, column labels below (thinned when crowded).
  const int rowStep = std::max(1, (r1 - r0) * 14 / std::max(1, g.height()));
  for (int r = r0; r < r1; r += rowStep) {
    QRect cell = cellRect(r, c0);
    cell.setTop(std::max(cell.top(), g.top()));
    cell.setBottom(std::min(cell.bottom(), g.bottom()));
    p.drawText(QRect(0, cell.top(), kLeft - 6, cell.height()), Qt::AlignRight | Qt::AlignVCenter, rowLabels_[r]);
  }
  const int colStep = std::max(1, (c1 - c0) * 40 / std::max(1, g.width()));
  for (int c = c0; c < c1; c += colStep) {
    const QRect cell = cellRect(r0, c);
    const int centre = std::clamp(cell.center().x(), g.left(), g.right());
    p.drawText(QRect(centre - 40, g.bottom() + 2, 80, 16), Qt::AlignCenter, colLabels_[c]);
  }
  p.drawText(QRect(g.left(), g.bottom() + 20, g.width(), 18), Qt::AlignCenter, xTitle_);
  p.save();
  p.translate(12, g.center().y());
  p.rotate(-90);
  p.drawText(QRect(-g.height() / 2, -8, g.height(), 16), Qt::AlignCenter, yTitle_);
  p.restore();
  drawColourBar(p, g);
}

void HeatmapWidget::drawColourBar(QPainter& p, const QRect& g) {
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
  const int textWidth = 44;
  p.drawText(QRect(bar.right() + 3, bar.top() - 2, textWidth, 14), Qt::AlignLeft | Qt::AlignTop,
             QString::number(hi_, 'g', 3));
  p.drawText(QRect(bar.right() + 3, bar.center().y() - 7, textWidth, 14), Qt::AlignLeft | Qt::AlignVCenter,
             QString::number(0.5 * (lo_ + hi_), 'g', 3));
  p.drawText(QRect(bar.right() + 3, bar.bottom() - 12, textWidth, 14), Qt::AlignLeft | Qt::AlignBottom,
             QString::number(lo_, 'g', 3));
  if (barLabel_.isEmpty()) return;
  p.save();
  p.translate(bar.right() + 3 + textWidth + 10, bar.center().y());
  p.rotate(90);
  p.drawText(QRect(-bar.height() / 2, -8, bar.height(), 16), Qt::AlignCenter, barLabel_);
  p.restore();
}

}  // namespace skvq::gui
