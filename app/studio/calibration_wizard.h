#pragma once
// Calibration wizard: model -> calibration data and options -> run (worker thread, progress,
// cancel) -> review per-layer channel ranges and clusters -> save and register in the store.
// Options and last paths are remembered (wizard_settings.h). While the calibration runs, Back
// is disabled and closing the wizard asks before cancelling the job.
#include <QWizard>
#include <functional>
#include <memory>

#include "engine.h"

namespace skvq::studio {

class JobRunner;
class WizardModelPage;
class WizardOptionsPage;
class WizardRunPage;
class WizardReviewPage;
struct CalibrationWizardOptions;

class CalibrationWizard : public QWizard {
  Q_OBJECT
 public:
  enum PageId { ModelPage, OptionsPage, RunPage, ReviewPage };
  /// Answers a yes/no question (title, text); true = yes. Replaces the message box (tests).
  using QuestionHook = std::function<bool(const QString& title, const QString& text)>;

  /// Restores the remembered options (load_wizard_options) over the defaults from `dataDir`.
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

  /// Quiet: no message boxes; closing during a job cancels it without asking; questions
  /// without a hook are answered no.
  void setQuiet(bool quiet) { quiet_ = quiet; }
  bool quiet() const { return quiet_; }
  void setQuestionHook(QuestionHook hook) { question_ = std::move(hook); }
  /// Asks the hook, else (not quiet) a Yes/No message box; quiet without a hook: false.
  bool ask(const QString& title, const QString& text);
  /// The pages' current options, and stores them (save_wizard_options).
  CalibrationWizardOptions currentOptions() const;
  void saveOptions() const;
  /// Keeps Back disabled while the run page's job runs (QWizard re-enables it on updates).
  void updateBackButton();

  /// Cancel, Escape and the close button: asks before cancelling a running calibration.
  void reject() override;

  WizardModelPage* modelPage() const { return modelPage_; }
  WizardOptionsPage* optionsPage() const { return optionsPage_; }
  WizardRunPage* runPage() const { return runPage_; }
  WizardReviewPage* reviewPage() const { return reviewPage_; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void restoreOptions();
  void growForReview();
  JobRunner* runner_;
  QString dbPath_, dataDir_;
  std::shared_ptr<const Calibration> result_;
  qint64 calibrationId_ = 0;
  bool quiet_ = false;
  QuestionHook question_;
  WizardModelPage* modelPage_;
  WizardOptionsPage* optionsPage_;
  WizardRunPage* runPage_;
  WizardReviewPage* reviewPage_;
};

}  // namespace skvq::studio
