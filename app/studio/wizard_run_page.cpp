#include "wizard_run_page.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "calibration_wizard.h"
#include "job_runner.h"

Q_DECLARE_METATYPE(std::shared_ptr<skvq::Calibration>)

namespace skvq::studio {

WizardRunPage::WizardRunPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Run the calibration"));
  status_ = new QLabel(tr("Press Start."), this);
  status_->setObjectName("status");
  status_->setWordWrap(true);
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
  done_ = false;
  bar_->setValue(0);
  const CalibrationRequest r = static_cast<CalibrationWizard*>(wizard())->request();
  status_->setText(tr("%1 samples of %2 tokens from %3, seed %4. Press Start.")
                       .arg(r.samples).arg(r.seq_len).arg(QString::fromStdString(r.text_path)).arg(r.seed));
}

bool WizardRunPage::isComplete() const { return done_; }

bool WizardRunPage::start() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  const CalibrationRequest req = w->request();
  JobRunner* runner = w->runner();
  const bool ok = runner->start(tr("Calibration"), [req](ProgressFn p, CancelFlag c) {
    return QVariant::fromValue(std::const_pointer_cast<Calibration>(run_calibration(req, p, c)));
  });
  if (!ok) {
    status_->setText(tr("Another job is running; wait for it or cancel it."));
    return false;
  }
  start_->setEnabled(false);
  cancel_->setEnabled(true);
  status_->setText(tr("Calibrating..."));
  auto* ctx = new QObject(this);
  connect(runner, &JobRunner::progress, ctx, [this](qint64 done, qint64 total) {
    bar_->setRange(0, static_cast<int>(total));
    bar_->setValue(static_cast<int>(done));
  });
  connect(runner, &JobRunner::finished, ctx, [this, w](const QString&, const QVariant& result) {
    w->setResult(result.value<std::shared_ptr<Calibration>>());
    done_ = true;
    status_->setText(tr("Done: %1 layers calibrated. Press Next to review.")
                         .arg(calibration_layers(*w->result())));
  });
  connect(runner, &JobRunner::failed, ctx, [this](const QString&, const QString& message) {
    status_->setText(tr("<span style='color:#b00'>Calibration failed: %1</span>").arg(message.toHtmlEscaped()));
  });
  connect(runner, &JobRunner::cancelled, ctx, [this] { status_->setText(tr("Cancelled.")); });
  connect(runner, &JobRunner::idle, ctx, [this, ctx] {
    start_->setEnabled(true);
    cancel_->setEnabled(false);
    Q_EMIT completeChanged();
    ctx->deleteLater();
  });
  return true;
}

void WizardRunPage::cancel() { static_cast<CalibrationWizard*>(wizard())->runner()->cancel(); }

QString WizardRunPage::statusText() const { return status_->text(); }

}  // namespace skvq::studio
