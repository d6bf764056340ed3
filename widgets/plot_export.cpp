#include "plot_export.h"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QPainter>
#include <QSvgGenerator>
#include <stdexcept>

#include "qcustomplot_include.h"

namespace skvq::gui {

void save_plot(QCustomPlot* plot, const QString& path) {
  const QFileInfo info(path);
  if (info.fileName().isEmpty()) throw std::runtime_error(path.toStdString() + ": no file name to save the plot to");
  bool ok = false;
  if (info.suffix().compare(QStringLiteral("svg"), Qt::CaseInsensitive) == 0) {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(plot->size());
    svg.setViewBox(QRect(QPoint(0, 0), plot->size()));
    svg.setTitle(plot->objectName());
    QCPPainter painter;
    if (painter.begin(&svg)) {
      plot->toPainter(&painter, plot->width(), plot->height());
      painter.end();
      ok = QFileInfo(path).exists() && QFileInfo(path).size() > 0;
    }
  } else {
    ok = plot->savePng(path, plot->width(), plot->height(), 2.0);
  }
  if (!ok) throw std::runtime_error(path.toStdString() + ": could not write the plot (folder missing or not writable?)");
}

QString csv_field(const QString& text) {
  if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) && !text.contains(QLatin1Char('\n')))
    return text;
  QString quoted = text;
  quoted.replace(QStringLiteral("\""), QStringLiteral("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

void add_export_menu(QCustomPlot* plot, std::function<QString()> csv) {
  plot->setContextMenuPolicy(Qt::CustomContextMenu);
  QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot, csv](const QPoint& at) {
    QMenu menu(plot);
    auto saveAs = [plot](const QString& suffix) {
      const QString base = plot->objectName().isEmpty() ? QStringLiteral("plot") : plot->objectName();
      const QString path = QFileDialog::getSaveFileName(plot, QObject::tr("Save plot"), base + QLatin1Char('.') + suffix,
                                                        suffix.toUpper() + QStringLiteral(" (*.") + suffix + QLatin1Char(')'));
      if (path.isEmpty()) return;
      try {
        save_plot(plot, path);
      } catch (const std::exception& e) {
        QMessageBox::warning(plot, QObject::tr("Save plot"), QString::fromStdString(e.what()));
      }
    };
    menu.addAction(QObject::tr("Save as PNG…"), plot, [saveAs] { saveAs(QStringLiteral("png")); });
    menu.addAction(QObject::tr("Save as SVG…"), plot, [saveAs] { saveAs(QStringLiteral("svg")); });
    if (csv) menu.addAction(QObject::tr("Copy data as CSV"), plot, [csv] { QApplication::clipboard()->setText(csv()); });
    menu.addAction(QObject::tr("Reset zoom"), plot, [plot] {
      plot->rescaleAxes();
      plot->replot();
    });
    menu.exec(plot->mapToGlobal(at));
  });
}

}  // namespace skvq::gui
