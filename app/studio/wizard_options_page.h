#pragma once
// Wizard page 2: calibration text, samples N, length L, group sizes and seed.
#include <QWizardPage>

#include "engine.h"
#include "wizard_settings.h"

class QLineEdit;
class QSpinBox;

namespace skvq::studio {

class WizardOptionsPage : public QWizardPage {
  Q_OBJECT
 public:
  explicit WizardOptionsPage(QWidget* parent = nullptr);
  CalibrationRequest request() const;
  void setOptions(const QString& text, int samples, int seqLen, const QString& groupSizes, int seed);
  /// The text path, size limit, N, L, group sizes and seed (the paths of other pages empty).
  CalibrationWizardOptions options() const;
  void setOptions(const CalibrationWizardOptions& o);
  bool validatePage() override;
  /// Why validatePage() refused, empty when it accepted.
  QString lastProblem() const { return lastProblem_; }

 private:
  QLineEdit* text_;
  QSpinBox* maxKiB_;
  QSpinBox* samples_;
  QSpinBox* seqLen_;
  QLineEdit* groupSizes_;
  QSpinBox* seed_;
  QString lastProblem_;
};

}  // namespace skvq::studio
