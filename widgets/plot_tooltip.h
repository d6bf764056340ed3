#pragma once
// The tooltip handling every plot shares: on a QEvent::ToolTip, show the text for the cursor
// position (or hide the tooltip when there is none).
#include <QPoint>
#include <QString>
#include <functional>

class QEvent;
class QWidget;

namespace skvq::gui {

/// Returns false unless `e` is a QEvent::ToolTip; then shows text(pos) at the cursor over
/// `widget` (hides the tooltip when the text is empty) and returns true (the event is handled).
bool handle_plot_tooltip(QWidget* widget, QEvent* e, const std::function<QString(const QPoint&)>& text);

}  // namespace skvq::gui
