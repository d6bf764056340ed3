#include "view_state.h"

#include <QCheckBox>
#include <QComboBox>
#include <QSettings>
#include <QWidget>

namespace skvq::studio {

void remember_choices(QWidget* view, const QString& group, const QStringList& names) {
  for (const QString& name : names) {
    const QString key = QStringLiteral("views/%1/%2").arg(group, name);
    const QVariant saved = QSettings().value(key);
    if (auto* combo = view->findChild<QComboBox*>(name)) {
      if (saved.isValid() && saved.toInt() >= 0 && saved.toInt() < combo->count()) combo->setCurrentIndex(saved.toInt());
      QObject::connect(combo, &QComboBox::activated, view, [key](int index) { QSettings().setValue(key, index); });
    } else if (auto* box = view->findChild<QCheckBox*>(name)) {
      if (saved.isValid()) box->setChecked(saved.toBool());
      QObject::connect(box, &QCheckBox::clicked, view, [key](bool on) { QSettings().setValue(key, on); });
    }
  }
}

}  // namespace skvq::studio
