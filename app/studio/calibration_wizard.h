#pragma once
// Calibration wizard: model -> calibration data and options -> run (worker thread, progress,
// cancel) -> review per-layer channel ranges and clusters -> save and register in the store.
#include <QWizard>
#include <memory>

#include "engine.h"

namespace skvq::studio {

class JobRunner;
class WizardModelPage;
class WizardOptionsPage;
class WizardRunPage;
class WizardReviewPage;

class CalibrationWizard : public QWizard {
  Q_OBJECT
 public:
  enum PageId { ModelPage, OptionsPage, RunPage, ReviewPage };
  CalibrationWizard(JobRunner* runner, QString dbPath, QString dataDir, QWidget* parent = nullptr);

  JobRunner* runner() const { return runner_; }
  const QString& dbPath() const { return dbPath_; }
  const QString& dataDir() const { return dataDir_; }
  /// The request built from the first two pages.
  CalibrationRequest request() const;
  std::shared_ptr<const Calibration> result() const { return result_; }
  void setResult(std::shared_ptr<const Calibration> calib) { result_ = std::move(calib); }
  /// Id of the registered calibration after Finish (0 before).
  qint64 calibrationId() const { return calibrationId_; }
  void setCalibrationId(qint64 id) { calibrationId_ = id; }

  WizardModelPage* modelPage() const { return modelPage_; }
  WizardOptionsPage* optionsPage() const { return optionsPage_; }
  WizardRunPage* runPage() const { return runPage_; }
  WizardReviewPage* reviewPage() const { return reviewPage_; }

 private:
  JobRunner* runner_;
  QString dbPath_, dataDir_;
  std::shared_ptr<const Calibration> result_;
  qint64 calibrationId_ = 0;
  WizardModelPage* modelPage_;
  WizardOptionsPage* optionsPage_;
  WizardRunPage* runPage_;
  WizardReviewPage* reviewPage_;
};

}  // namespace skvq::studio
