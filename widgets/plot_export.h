#pragma once
// Saving a plot as PNG or SVG and copying its data as CSV, from a right-click menu.
#include <QString>
#include <functional>

class QCustomPlot;

namespace skvq::gui {

/// Writes `plot` to `path`: SVG (vector, QSvgGenerator) when the suffix is .svg, else PNG at
/// twice the widget's size. Throws std::runtime_error naming the file when it cannot be written.
void save_plot(QCustomPlot* plot, const QString& path);

/// One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote or newline.
QString csv_field(const QString& text);

/// Gives `plot` a context menu "Save as PNG…", "Save as SVG…" and, when `csv` is set,
/// "Copy data as CSV" (the text `csv()` returns, to the clipboard). A failed save is reported
/// in a message box naming the file.
void add_export_menu(QCustomPlot* plot, std::function<QString()> csv);

}  // namespace skvq::gui
