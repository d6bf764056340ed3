#pragma once
// Wizard page 3: runs skvq::calibrate on a worker thread with progress and cancel.
#include <QWizardPage>

class QLabel;
class QProgressBar;
class QPushButton;

namespace skvq::studio {

class WizardRunPage : public QWizardPage {
  Q_OBJECT
 public:
  explicit WizardRunPage(QWidget* parent = nullptr);
  void initializePage() override;
  bool isComplete() const override;
  /// Starts the calibration (returns false when another job runs).
  bool start();
  void cancel();
  QString statusText() const;

 private:
  QLabel* status_;
  QProgressBar* bar_;
  QPushButton* start_;
  QPushButton* cancel_;
  bool done_ = false;
};

}  // namespace skvq::studio
