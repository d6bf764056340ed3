#pragma once
// Wizard page 3: runs skvq::calibrate on a worker thread (JobRunner) with progress and cancel.
// The status line follows the job: running (step of steps), cancelling, cancelled, failed, done.
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
  /// Starts the calibration (returns false when another job runs). Stores the options.
  bool start();
  /// Asks the job to stop; the status says "Cancelling..." until it has.
  void cancel();
  /// Whether this page's calibration job is running.
  bool isRunning() const { return running_; }
  QString statusText() const;

 private:
  void connectJob();
  void setRunning(bool running);
  QLabel* status_;
  QProgressBar* bar_;
  QPushButton* start_;
  QPushButton* cancel_;
  bool done_ = false, running_ = false;
};

}  // namespace skvq::studio
