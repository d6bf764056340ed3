#include "batch_form.h"

#include <QFontDatabase>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QVBoxLayout>

#include "engine_runs.h"

namespace skvq::studio {

BatchForm::BatchForm(JobRunner* runner, QWidget* parent) : RunForm(runner, tr("Batch job file"), parent) {
  setObjectName("batchForm");
  job_ = addLine(tr("Batch file:"), "jobFile", {}, Browse::File, tr("Batch job (*.json);;All files (*)"));
  job_->setToolTip(tr("JSON: model, ppl {text, ctx_len, ...}, configs, calibration (see skvq batch --help)"));
  log_ = new QPlainTextEdit(this);
  log_->setObjectName("log");
  log_->setReadOnly(true);
  log_->setLineWrapMode(QPlainTextEdit::NoWrap);  // the comparison table stays aligned
  log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  log_->setPlaceholderText(tr("The plan shows here once the file is checked, the comparison table once it ran."));
  body()->addWidget(log_);
  resize(820, 520);
}

bool BatchForm::checkFields() {
  if (!checkPath(job_)) return false;
  try {
    log_->setPlainText(QString::fromStdString(batch_plan(job_->text().trimmed().toStdString())));
  } catch (const std::exception& e) {
    setFieldError(job_, QString::fromStdString(e.what()));
    return false;
  }
  return true;
}

JobRunner::Work BatchForm::work(const std::string& db) const {
  return [job = job_->text().trimmed().toStdString(), db](ProgressFn p, CancelFlag c) {
    const BatchResult r = run_batch_job(job, db, p, c);
    QVariantList ids;
    for (int64_t id : r.run_ids) ids << qlonglong(id);
    return QVariant(QVariantMap{{QStringLiteral("ids"), ids}, {QStringLiteral("log"), QString::fromStdString(r.log)}});
  };
}

void BatchForm::showResult(const QVariantMap& result) { log_->setPlainText(result.value(QStringLiteral("log")).toString()); }

}  // namespace skvq::studio
