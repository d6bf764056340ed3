#pragma once
// Wizard page 2: calibration text, samples N, length L, group sizes and seed.
#include <QWizardPage>

#include "engine.h"

class QLineEdit;
class QSpinBox;

namespace skvq::studio {

class WizardOptionsPage : public QWizardPage {
  Q_OBJECT
 public:
  explicit WizardOptionsPage(QWidget* parent = nullptr);
  CalibrationRequest request() const;
  void setOptions(const QString& text, int samples, int seqLen, const QString& groupSizes, int seed);
  bool validatePage() override;

 private:
  QLineEdit* text_;
  QSpinBox* maxKiB_;
  QSpinBox* samples_;
  QSpinBox* seqLen_;
  QLineEdit* groupSizes_;
  QSpinBox* seed_;
};

}  // namespace skvq::studio
