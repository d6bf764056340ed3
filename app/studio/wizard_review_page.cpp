#include "wizard_review_page.h"

#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QLineEdit>
#include <QMessageBox>
#include <QVBoxLayout>

#include "calibration_wizard.h"
#include "outlier_view.h"
#include "wizard_model_page.h"

namespace skvq::studio {

WizardReviewPage::WizardReviewPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Review and save"));
  setSubTitle(tr("Per-layer channel ranges coloured by cluster; Finish saves the calibration and "
                 "registers it in the run store."));
  view_ = new OutlierView(this);
  out_ = new QLineEdit(this);
  out_->setObjectName("outputPath");
  auto* form = new QFormLayout;
  form->addRow(tr("Save as:"), out_);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(view_, 1);
  layout->addLayout(form);
}

void WizardReviewPage::setOutputPath(const QString& path) { out_->setText(path); }

void WizardReviewPage::initializePage() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  if (!w->result()) return;
  const auto req = w->request();
  const QString name = QString::fromStdString(w->modelPage()->info().name);
  view_->showCalibration(w->result(), name);
  if (out_->text().isEmpty()) {
    const QString dir = QFileInfo(w->dbPath()).absolutePath();
    out_->setText(QDir(dir).filePath(QStringLiteral("%1-calib-n%2-l%3-s%4.json")
                                         .arg(name).arg(req.samples).arg(req.seq_len).arg(req.seed)));
  }
}

bool WizardReviewPage::validatePage() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  if (!w->result()) return false;
  try {
    w->setCalibrationId(save_and_register_calibration(*w->result(), w->modelPage()->modelPath().toStdString(),
                                                      out_->text().toStdString(), w->dbPath().toStdString()));
    lastError_.clear();
    return true;
  } catch (const std::exception& e) {
    lastError_ = QString::fromStdString(e.what());
    if (!property("quiet").toBool())
      QMessageBox::critical(this, tr("Save calibration"), lastError_);
    return false;
  }
}

}  // namespace skvq::studio
