#include "job_status_widget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include "job_runner.h"

namespace skvq::studio {

JobStatusWidget::JobStatusWidget(JobRunner* runner, QWidget* parent) : QWidget(parent) {
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  label_ = new QLabel(tr("idle"), this);
  bar_ = new QProgressBar(this);
  bar_->setMaximumWidth(220);
  bar_->setRange(0, 100);
  bar_->setValue(0);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setEnabled(false);
  layout->addWidget(label_);
  layout->addWidget(bar_);
  layout->addWidget(cancel_);
  connect(cancel_, &QPushButton::clicked, runner, &JobRunner::cancel);
  connect(cancel_, &QPushButton::clicked, this, [this] {
    cancel_->setEnabled(false);
    label_->setText(label_->text() + tr(" (cancelling)"));
  });
  connect(runner, &JobRunner::started, this, [this](const QString& name) {
    label_->setText(name);
    bar_->setRange(0, 0);  // busy until the first progress report
    cancel_->setEnabled(true);
  });
  connect(runner, &JobRunner::progress, this, [this](qint64 done, qint64 total) {
    bar_->setRange(0, 1000);
    bar_->setValue(total > 0 ? static_cast<int>(1000 * done / total) : 0);
    bar_->setFormat(QStringLiteral("%1 / %2").arg(done).arg(total));
  });
  // Only a finished job leaves a full bar; a failed or cancelled one leaves an empty bar and
  // no stale "4/4".
  auto end = [this](const QString& text, bool full) {
    label_->setText(text);
    bar_->setRange(0, 1000);
    bar_->setValue(full ? 1000 : 0);
    bar_->setFormat(full ? QStringLiteral("%p%") : QString());
    cancel_->setEnabled(false);
  };
  connect(runner, &JobRunner::finished, this, [end, this](const QString& name) { end(tr("%1: done").arg(name), true); });
  connect(runner, &JobRunner::failed, this, [end, this](const QString& name) { end(tr("%1: failed").arg(name), false); });
  connect(runner, &JobRunner::cancelled, this, [end, this](const QString& name) { end(tr("%1: cancelled").arg(name), false); });
  connect(runner, &JobRunner::idle, this, [this] { cancel_->setEnabled(false); });
}

QString JobStatusWidget::text() const { return label_->text(); }
int JobStatusWidget::progressValue() const { return bar_->value(); }
bool JobStatusWidget::cancelEnabled() const { return cancel_->isEnabled(); }

}  // namespace skvq::studio
