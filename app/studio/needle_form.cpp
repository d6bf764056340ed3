#include "needle_form.h"

#include <QDir>
#include <QLineEdit>
#include <QSpinBox>

namespace skvq::studio {

NeedleForm::NeedleForm(JobRunner* runner, QWidget* parent)
    : RunForm(runner, tr("Needle-in-a-haystack grid"), parent) {
  setObjectName("needleForm");
  model_ = addLine(tr("Model:"), "model", {}, Browse::File);
  calibration_ = addLine(tr("Calibration:"), "calibration", {}, Browse::File, tr("Calibration (*.json)"));
  calibration_->setPlaceholderText(tr("needed by reorder/smooth configurations"));
  configs_ = addLine(tr("Configurations:"), "configs", QStringLiteral("k2-v2-g16-sink4-fp8"));
  configs_->setToolTip(tr("Comma-separated; the unquantized reference always runs first."));
  lengths_ = addLine(tr("Context lengths:"), "lengths", QStringLiteral("256,384"));
  depths_ = addLine(tr("Depths (%):"), "depths", QStringLiteral("0,50,100"));
  haystack_ = addLine(tr("Haystack:"), "haystack", {}, Browse::Directory);
  haystack_->setPlaceholderText(tr("default: <data>/text/needle/PaulGrahamEssays"));
  maxNew_ = new QSpinBox(this);
  maxNew_->setObjectName("maxNewTokens");
  maxNew_->setRange(1, 4096);
  maxNew_->setValue(32);
  addField(tr("Answer tokens:"), maxNew_);
  resize(680, sizeHint().height());
}

bool NeedleForm::checkFields() {
  bool ok = checkPath(model_);
  bool needsCalibration = false;
  ok = checkConfigs(configs_, model_->text(), &req_.configs, &needsCalibration) && ok;
  ok = checkCalibration(calibration_, needsCalibration) && ok;
  ok = checkIntList(lengths_, &req_.lengths) && ok;
  ok = checkPercentList(depths_, &req_.depths) && ok;
  ok = checkPath(haystack_, true, true) && ok;
  req_.model = {model_->text().trimmed().toStdString(), {}, calibration_->text().trimmed().toStdString()};
  req_.haystack_dir = haystack_->text().trimmed().toStdString();
  req_.max_new_tokens = maxNew_->value();
  return ok;
}

JobRunner::Work NeedleForm::work(const std::string& db) const {
  return [req = req_, db](ProgressFn p, CancelFlag c) {
    QVariantList ids;
    for (int64_t id : run_needle_grid(req, db, p, c)) ids << qlonglong(id);
    return QVariant(QVariantMap{{QStringLiteral("ids"), ids}});
  };
}

}  // namespace skvq::studio
