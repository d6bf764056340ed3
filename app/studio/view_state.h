#pragma once
// A view's choices (combo boxes with fixed items, check boxes) remembered across sessions in
// QSettings under "views/<group>/<objectName>".
#include <QString>
#include <QStringList>

class QWidget;

namespace skvq::studio {

/// Restores the children of `view` named in `names` (QComboBox: current index, when it is in
/// range; QCheckBox: checked) from QSettings and saves them whenever the user changes them.
/// Only the user's own changes are saved (QComboBox::activated, QCheckBox::clicked), not those
/// made by code. Children that are not found are skipped. Call once the combos have their items.
void remember_choices(QWidget* view, const QString& group, const QStringList& names);

}  // namespace skvq::studio
