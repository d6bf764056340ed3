#pragma once
// Edits StudioSettings: data directory, run store path, threads.
#include <QDialog>

class QLineEdit;
class QSpinBox;

namespace skvq::studio {

class SettingsDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SettingsDialog(QWidget* parent = nullptr);
  /// Writes the fields to QSettings.
  void save();

 private:
  QLineEdit* dataDir_;
  QLineEdit* database_;
  QSpinBox* threads_;
};

}  // namespace skvq::studio
