#include "wizard_run_page.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "calibration_wizard.h"
#include "job_runner.h"
#include "wizard_settings.h"

Q_DECLARE_METATYPE(std::shared_ptr<skvq::Calibration>)

namespace skvq::studio {

WizardRunPage::WizardRunPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Run the calibration"));
  setSubTitle(tr("The samples run through the model on a worker thread, then the channels are clustered "
                 "for each group size. Cancel stops it at its next check."));
  status_ = new QLabel(tr("Press Start."), this);
  status_->setObjectName("status");
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  bar_ = new QProgressBar(this);
  bar_->setObjectName("progress");
  start_ = new QPushButton(tr("Start"), this);
  start_->setObjectName("start");
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setObjectName("cancel");
  cancel_->setEnabled(false);
  auto* row = new QHBoxLayout;
  row->addWidget(start_);
  row->addWidget(cancel_);
  row->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(status_);
  layout->addWidget(bar_);
  layout->addLayout(row);
  layout->addStretch(1);
  connect(start_, &QPushButton::clicked, this, [this] { start(); });
  connect(cancel_, &QPushButton::clicked, this, [this] { cancel(); });
}

void WizardRunPage::initializePage() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  done_ = false;
  w->setResult(nullptr);
  bar_->setRange(0, 1);
  bar_->setValue(0);
  const CalibrationRequest r = w->request();
  status_->setText(tr("%1 samples of %2 tokens from %3, seed %4, group sizes %5. Press Start.")
                       .arg(r.samples).arg(r.seq_len).arg(QString::fromStdString(r.text_path)).arg(r.seed)
                       .arg(w->currentOptions().groupSizes));
}

bool WizardRunPage::isComplete() const { return done_ && !running_; }

void WizardRunPage::setRunning(bool running) {
  running_ = running;
  start_->setEnabled(!running);
  cancel_->setEnabled(running);
  auto* w = static_cast<CalibrationWizard*>(wizard());
  Q_EMIT completeChanged();  // QWizard updates its buttons (Back enabled again when idle)
  w->updateBackButton();
}

bool WizardRunPage::start() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  const CalibrationRequest req = w->request();
  const bool ok = w->runner()->start(tr("Calibration"), [req](ProgressFn p, CancelFlag c) {
    return QVariant::fromValue(std::const_pointer_cast<Calibration>(run_calibration(req, p, c)));
  });
  if (!ok) {
    status_->setText(tr("Another job is running (%1); wait for it or cancel it.").arg(w->runner()->currentJob()));
    return false;
  }
  w->saveOptions();
  done_ = false;
  w->setResult(nullptr);
  bar_->setRange(0, 0);  // busy until the first progress report
  status_->setText(tr("Calibrating: loading the model and tokenizing the text..."));
  connectJob();
  setRunning(true);
  return true;
}

void WizardRunPage::connectJob() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  JobRunner* runner = w->runner();
  auto* ctx = new QObject(this);
  const int samples = static_cast<int>(w->request().samples);
  connect(runner, &JobRunner::progress, ctx, [this, samples](qint64 done, qint64 total) {
    bar_->setRange(0, static_cast<int>(total));
    bar_->setValue(static_cast<int>(done));
    if (cancel_->isEnabled())  // not while cancelling
      status_->setText(done < samples ? tr("Calibrating: %1 of %2 samples done").arg(done).arg(samples)
                                      : tr("Calibrating: clustering channels (step %1 of %2)").arg(done).arg(total));
  });
  connect(runner, &JobRunner::finished, ctx, [this, w](const QString&, const QVariant& result) {
    w->setResult(result.value<std::shared_ptr<Calibration>>());
    done_ = true;
    status_->setText(tr("Done: %1 layers calibrated. Press Next to review.").arg(calibration_layers(*w->result())));
  });
  connect(runner, &JobRunner::failed, ctx, [this](const QString&, const QString& message) {
    bar_->setRange(0, 1);
    bar_->setValue(0);
    status_->setText(tr("<span style='color:#b00'>Calibration failed: %1</span><br>Change the options "
                        "with Back, or press Start to try again.").arg(message.toHtmlEscaped()));
  });
  connect(runner, &JobRunner::cancelled, ctx, [this] {
    bar_->setRange(0, 1);
    bar_->setValue(0);
    status_->setText(tr("Cancelled. Press Start to run it again."));
  });
  connect(runner, &JobRunner::idle, ctx, [this, ctx] {
    setRunning(false);
    ctx->deleteLater();
  });
}

void WizardRunPage::cancel() {
  if (!running_) return;
  cancel_->setEnabled(false);
  status_->setText(tr("Cancelling: the calibration stops at its next check..."));
  static_cast<CalibrationWizard*>(wizard())->runner()->cancel();
}

QString WizardRunPage::statusText() const { return status_->text(); }

}  // namespace skvq::studio
