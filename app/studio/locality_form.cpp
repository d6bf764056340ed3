#include "locality_form.h"

#include <QDir>
#include <QLineEdit>
#include <QSpinBox>

namespace skvq::studio {

LocalityForm::LocalityForm(JobRunner* runner, QWidget* parent)
    : RunForm(runner, tr("Attention locality analysis"), parent) {
  setObjectName("localityForm");
  model_ = addLine(tr("Model:"), "model", {}, Browse::File);
  text_ = addLine(tr("Text:"), "text", {}, Browse::File, tr("Text (*.txt);;All files (*)"));
  maxTokens_ = new QSpinBox(this);
  maxTokens_->setObjectName("maxTokens");
  maxTokens_->setRange(0, 1 << 20);
  maxTokens_->setValue(256);
  maxTokens_->setSpecialValueText(tr("model's context"));
  addField(tr("Tokens:"), maxTokens_);
  config_ = addLine(tr("Configuration:"), "config", {});
  config_->setPlaceholderText(tr("for the error analysis; default k2-v2-g<g>-reorder-clip-sink5"));
  calibration_ = addLine(tr("Calibration:"), "calibration", {}, Browse::File, tr("Calibration (*.json)"));
  calibration_->setPlaceholderText(tr("default: statistics of the text itself"));
  sinks_ = addLine(tr("Sink sizes S:"), "sinks", QStringLiteral("1,5,10"));
  windows_ = addLine(tr("Window sizes W:"), "windows", QStringLiteral("16,32,64,128"));
  resize(680, sizeHint().height());
}

void LocalityForm::setDataDir(const QString& dir) {
  text_->setText(QDir(dir).filePath(QStringLiteral("text/tinystories/tinystories_val.txt")));
}

bool LocalityForm::checkFields() {
  bool ok = checkPath(model_);
  ok = checkPath(text_) && ok;
  ok = checkPath(calibration_, false, true) && ok;
  std::vector<std::string> configs;
  if (config_->text().trimmed().isEmpty()) {
    setFieldError(config_, {});
  } else if (checkConfigs(config_, model_->text(), &configs)) {
    if (configs.size() != 1) {
      setFieldError(config_, tr("one configuration"));
      ok = false;
    }
  } else {
    ok = false;
  }
  ok = checkIntList(sinks_, &req_.sinks) && ok;
  ok = checkIntList(windows_, &req_.windows) && ok;
  req_.model = {model_->text().trimmed().toStdString(), {}, calibration_->text().trimmed().toStdString()};
  req_.text_path = text_->text().trimmed().toStdString();
  req_.config = configs.empty() ? std::string() : configs.front();
  req_.max_tokens = maxTokens_->value();
  return ok;
}

JobRunner::Work LocalityForm::work(const std::string& db) const {
  return [req = req_, db](ProgressFn p, CancelFlag c) {
    const QVariantList ids{qlonglong(run_locality_analysis(req, db, p, c))};
    return QVariant(QVariantMap{{QStringLiteral("ids"), ids}});
  };
}

}  // namespace skvq::studio
