#include "calibration_wizard.h"

#include <QAbstractButton>
#include <QEvent>
#include <QFileInfo>
#include <QMessageBox>
#include <QScreen>
#include <algorithm>

#include "job_runner.h"
#include "wizard_model_check.h"
#include "wizard_model_page.h"
#include "wizard_options_page.h"
#include "wizard_review_page.h"
#include "wizard_run_page.h"
#include "wizard_settings.h"

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
  button(QWizard::BackButton)->installEventFilter(this);
  restoreOptions();
  resize(900, 640);
  connect(this, &QWizard::currentIdChanged, this, [this](int id) {
    if (id == ReviewPage) growForReview();
  });
}

void CalibrationWizard::growForReview() {
  // The review shows two plots side by side with long titles and legends: take the room the
  // screen has, up to 1260x700 (a 1280x720 screen with a title bar).
  const QRect avail = screen() ? screen()->availableGeometry() : QRect(0, 0, 1280, 720);
  const QSize frame = frameGeometry().size() - size();
  const QSize want(std::min(1260, avail.width() - frame.width()), std::min(700, avail.height() - frame.height()));
  if (width() >= want.width() && height() >= want.height()) return;
  resize(std::max(width(), want.width()), std::max(height(), want.height()));
  const QRect g = frameGeometry();
  if (!avail.contains(g)) move(avail.topLeft() + QPoint(std::max(0, (avail.width() - g.width()) / 2),
                                                        std::max(0, (avail.height() - g.height()) / 2)));
}

void CalibrationWizard::restoreOptions() {
  CalibrationWizardOptions defaults = optionsPage_->options();
  defaults.modelPath = modelPage_->modelPath();
  const CalibrationWizardOptions o = load_wizard_options(defaults);
  // A remembered path that is gone keeps the default (the demo model and text).
  if (o.modelPath != defaults.modelPath && check_model_path(o.modelPath).ok) modelPage_->setModelPath(o.modelPath);
  if (check_tokenizer_path(o.tokenizerPath).isEmpty()) modelPage_->setTokenizerPath(o.tokenizerPath);
  CalibrationWizardOptions page = o;
  if (!QFileInfo(o.textPath).isFile()) page.textPath = defaults.textPath;
  optionsPage_->setOptions(page);
  reviewPage_->setOutputDir(o.outputDir);
}

CalibrationRequest CalibrationWizard::request() const {
  CalibrationRequest r = optionsPage_->request();
  r.model_path = modelPage_->modelPath().toStdString();
  r.tokenizer_path = modelPage_->tokenizerPath().toStdString();
  return r;
}

CalibrationWizardOptions CalibrationWizard::currentOptions() const {
  CalibrationWizardOptions o = optionsPage_->options();
  o.modelPath = modelPage_->modelPath();
  o.tokenizerPath = modelPage_->tokenizerPath();
  o.outputDir = reviewPage_->outputDir();
  return o;
}

void CalibrationWizard::saveOptions() const { save_wizard_options(currentOptions()); }

bool CalibrationWizard::ask(const QString& title, const QString& text) {
  if (question_) return question_(title, text);
  if (quiet_) return false;
  return QMessageBox::question(this, title, text, QMessageBox::Yes | QMessageBox::No, QMessageBox::No) ==
         QMessageBox::Yes;
}

void CalibrationWizard::reject() {
  if (runPage_->isRunning()) {
    if (!quiet_ && !ask(tr("Calibration running"),
                        tr("A calibration is running. Cancel it and close the wizard?")))
      return;
    runPage_->cancel();
  }
  QWizard::reject();
}

void CalibrationWizard::updateBackButton() {
  if (runPage_->isRunning()) button(QWizard::BackButton)->setEnabled(false);
}

bool CalibrationWizard::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::EnabledChange && watched == button(QWizard::BackButton)) updateBackButton();
  return QWizard::eventFilter(watched, event);
}

}  // namespace skvq::studio
