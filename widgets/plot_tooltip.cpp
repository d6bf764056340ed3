#include "plot_tooltip.h"

#include <QHelpEvent>
#include <QToolTip>
#include <QWidget>

namespace skvq::gui {

bool handle_plot_tooltip(QWidget* widget, QEvent* e, const std::function<QString(const QPoint&)>& text) {
  if (e->type() != QEvent::ToolTip) return false;
  auto* help = static_cast<QHelpEvent*>(e);
  const QString tip = text(help->pos());
  if (tip.isEmpty()) QToolTip::hideText();
  else QToolTip::showText(help->globalPos(), tip, widget);
  return true;
}

}  // namespace skvq::gui
