#include "longbench_form.h"

#include <QDir>
#include <QFileInfo>
#include <QHeaderView>
#include <QLineEdit>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "skvq/run_store.h"

namespace skvq::studio {

LongBenchForm::LongBenchForm(JobRunner* runner, QWidget* parent) : RunForm(runner, tr("LongBench tasks"), parent) {
  setObjectName("longbenchForm");
  model_ = addLine(tr("Model:"), "model", {}, Browse::File);
  data_ = addLine(tr("Data (JSONL):"), "data", {}, Browse::File, tr("JSONL (*.jsonl);;All files (*)"));
  data_->setToolTip(tr("LongBench or L-Eval JSONL files, comma-separated"));
  tasks_ = addLine(tr("Task table:"), "tasksFile", {}, Browse::File, tr("JSON (*.json)"));
  tasks_->setPlaceholderText(tr("optional: added to the built-in table"));
  configs_ = addLine(tr("Configurations:"), "configs", QStringLiteral("fp16, k2-v2-g16-sink4-fp8"));
  calibration_ = addLine(tr("Calibration:"), "calibration", {}, Browse::File, tr("Calibration (*.json)"));
  calibration_->setPlaceholderText(tr("needed by reorder/smooth configurations"));
  samples_ = new QSpinBox(this);
  samples_->setObjectName("maxSamples");
  samples_->setRange(0, 1 << 20);
  samples_->setValue(2);
  samples_->setSpecialValueText(tr("all"));
  addField(tr("Samples per task:"), samples_);
  promptTokens_ = new QSpinBox(this);
  promptTokens_->setObjectName("maxPromptTokens");
  promptTokens_->setRange(0, 1 << 24);
  promptTokens_->setValue(0);
  promptTokens_->setSpecialValueText(tr("model's context"));
  addField(tr("Prompt + answer tokens:"), promptTokens_);
  scores_ = new QTableWidget(0, 6, this);
  scores_->setObjectName("scores");
  scores_->setHorizontalHeaderLabels({tr("Run"), tr("Config"), tr("Task"), tr("Metric"), tr("Score"), tr("Samples")});
  scores_->horizontalHeader()->setSectionResizeMode(2, QHeaderView::Stretch);
  scores_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  scores_->verticalHeader()->hide();
  body()->addWidget(scores_);
  resize(680, 560);
}

void LongBenchForm::setDataDir(const QString& dir) {
  data_->setText(QDir(dir).filePath(QStringLiteral("text/leval/topic_retrieval_longchat.jsonl")));
}

bool LongBenchForm::checkFields() {
  bool ok = checkPath(model_);
  req_.data_paths = split_list(data_->text());
  QStringList missing;
  for (const std::string& p : req_.data_paths)
    if (!QFileInfo(QString::fromStdString(p)).isFile()) missing << tr("%1: no such file").arg(QString::fromStdString(p));
  if (req_.data_paths.empty()) missing << tr("required");
  setFieldError(data_, missing.join('\n'));
  ok = missing.isEmpty() && ok;
  ok = checkPath(tasks_, false, true) && ok;
  bool needsCalibration = false;
  ok = checkConfigs(configs_, model_->text(), &req_.configs, &needsCalibration) && ok;
  ok = checkCalibration(calibration_, needsCalibration) && ok;
  req_.model = {model_->text().trimmed().toStdString(), {}, calibration_->text().trimmed().toStdString()};
  req_.tasks_file = tasks_->text().trimmed().toStdString();
  req_.max_samples = samples_->value();
  req_.max_prompt_tokens = promptTokens_->value();
  return ok;
}

JobRunner::Work LongBenchForm::work(const std::string& db) const {
  return [req = req_, db](ProgressFn p, CancelFlag c) {
    QVariantList ids;
    for (int64_t id : run_longbench_tasks(req, db, p, c)) ids << qlonglong(id);
    return QVariant(QVariantMap{{QStringLiteral("ids"), ids}});
  };
}

void LongBenchForm::showResult(const QVariantMap& result) {
  QList<qint64> ids;
  for (const QVariant& v : result.value(QStringLiteral("ids")).toList()) ids << v.toLongLong();
  try {
    RunStore store(storePath().toStdString(), RunStore::default_lock_timeout_ms(), StoreMode::ReadOnly);
    showScores(store, ids);
  } catch (const std::exception& e) {
    setStatus(QString::fromStdString(e.what()), true);
  }
}

void LongBenchForm::showScores(RunStore& store, const QList<qint64>& ids) {
  scores_->setRowCount(0);
  for (qint64 id : ids) {
    const auto run = store.get_run(id);
    if (!run || !run->metrics.contains("tasks")) continue;
    for (auto it = run->metrics["tasks"].begin(); it != run->metrics["tasks"].end(); ++it) {
      const int row = scores_->rowCount();
      scores_->insertRow(row);
      const QStringList cells{QString::number(id), QString::fromStdString(run->config), QString::fromStdString(it.key()),
                              QString::fromStdString(it.value().value("metric", std::string())),
                              QString::number(it.value().value("score", 0.0), 'f', 2),
                              QString::number(it.value().value("samples", int64_t{0}))};
      for (int c = 0; c < cells.size(); ++c) scores_->setItem(row, c, new QTableWidgetItem(cells[c]));
    }
  }
  scores_->resizeColumnsToContents();
}

}  // namespace skvq::studio
