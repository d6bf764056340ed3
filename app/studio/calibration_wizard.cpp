#include "calibration_wizard.h"

#include "wizard_model_page.h"
#include "wizard_options_page.h"
#include "wizard_review_page.h"
#include "wizard_run_page.h"

namespace skvq::studio {

CalibrationWizard::CalibrationWizard(JobRunner* runner, QString dbPath, QString dataDir, QWidget* parent)
    : QWizard(parent), runner_(runner), dbPath_(std::move(dbPath)), dataDir_(std::move(dataDir)) {
  setWindowTitle(tr("Calibrate a model"));
  setWizardStyle(QWizard::ClassicStyle);
  modelPage_ = new WizardModelPage(this);
  optionsPage_ = new WizardOptionsPage(this);
  runPage_ = new WizardRunPage(this);
  reviewPage_ = new WizardReviewPage(this);
  setPage(ModelPage, modelPage_);
  setPage(OptionsPage, optionsPage_);
  setPage(RunPage, runPage_);
  setPage(ReviewPage, reviewPage_);
  resize(900, 640);
}

CalibrationRequest CalibrationWizard::request() const {
  CalibrationRequest r = optionsPage_->request();
  r.model_path = modelPage_->modelPath().toStdString();
  return r;
}

}  // namespace skvq::studio
