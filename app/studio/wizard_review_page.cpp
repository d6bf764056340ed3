#include "wizard_review_page.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

#include "calibration_wizard.h"
#include "curve_plot.h"
#include "grouped_bar_plot.h"
#include "outlier_view.h"
#include "wizard_model_page.h"

namespace skvq::studio {

WizardReviewPage::WizardReviewPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Review and save"));
  setSubTitle(tr("Per-layer channel ranges coloured by cluster; Finish saves the calibration and "
                 "registers it in the run store."));
  view_ = new OutlierView(this);
  // A calibration has channel ranges and clusters, not quantization errors: empty MSE plots
  // would only say so in their titles.
  view_->errorPlot()->hide();
  view_->layerErrorPlot()->hide();
  // Overview above the channel ranges, both the page's full width: side by side, the layer's
  // title and the cluster legend were clipped even at 1260 pixels.
  for (QSplitter* s : view_->findChildren<QSplitter*>(QString(), Qt::FindDirectChildrenOnly))
    if (s->orientation() == Qt::Horizontal) {
      s->setOrientation(Qt::Vertical);
      s->setStretchFactor(0, 2);
      s->setStretchFactor(1, 3);
      s->setSizes({2000, 3000});
    }
  note_ = new QLabel(tr("Quantization error (MSE) per group and per layer needs an analyze run: once "
                        "saved, run <code>skvq analyze</code> with this calibration and open the run in "
                        "the Outliers view."), this);
  note_->setObjectName("errorNote");
  note_->setWordWrap(true);
  out_ = new QLineEdit(this);
  out_->setObjectName("outputPath");
  auto* browse = new QPushButton(tr("Browse..."), this);
  browse->setObjectName("browseOutput");
  auto* row = new QHBoxLayout;
  row->addWidget(out_, 1);
  row->addWidget(browse);
  auto* form = new QFormLayout;
  form->addRow(tr("Save as:"), row);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(view_, 1);
  layout->addWidget(note_);
  layout->addLayout(form);
  connect(browse, &QPushButton::clicked, this, [this] { this->browse(); });
}

QString WizardReviewPage::outputPath() const { return out_->text(); }
void WizardReviewPage::setOutputPath(const QString& path) { out_->setText(path); }

void WizardReviewPage::browse() {
  const QString p = QFileDialog::getSaveFileName(this, tr("Save calibration"), out_->text(),
                                                 tr("Calibration (*.json);;All files (*)"));
  if (p.isEmpty()) return;
  out_->setText(p);
  confirmed_ = p;  // the Save dialog asked before picking an existing file
}

void WizardReviewPage::initializePage() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  if (!w->result()) return;
  const auto req = w->request();
  QString name = QString::fromStdString(w->modelPage()->info().name);
  if (name.isEmpty()) name = QFileInfo(w->modelPage()->modelPath()).completeBaseName();
  view_->showCalibration(w->result(), name);
  view_->errorPlot()->hide();
  view_->layerErrorPlot()->hide();
  if (out_->text().isEmpty()) {
    const QString dir = outputDir_.isEmpty() ? QFileInfo(w->dbPath()).absolutePath() : outputDir_;
    out_->setText(QDir(dir).filePath(QStringLiteral("%1-calib-n%2-l%3-s%4.json")
                                         .arg(name).arg(req.samples).arg(req.seq_len).arg(req.seed)));
  }
}

bool WizardReviewPage::validatePage() {
  auto* w = static_cast<CalibrationWizard*>(wizard());
  if (!w->result()) return false;
  const QString out = out_->text();
  if (QFileInfo::exists(out) && out != confirmed_) {
    if (!w->ask(tr("Save calibration"), tr("%1 exists. Overwrite it?").arg(out))) {
      lastError_ = tr("%1 exists; not overwritten").arg(out);
      return false;
    }
    confirmed_ = out;
  }
  try {
    w->setCalibrationId(save_and_register_calibration(*w->result(), w->modelPage()->modelPath().toStdString(),
                                                      out.toStdString(), w->dbPath().toStdString(),
                                                      w->modelPage()->tokenizerPath().toStdString()));
    lastError_.clear();
    outputDir_ = QFileInfo(out).absolutePath();
    w->saveOptions();
    return true;
  } catch (const std::exception& e) {
    lastError_ = QString::fromStdString(e.what());
    if (!w->quiet() && !property("quiet").toBool())
      QMessageBox::critical(this, tr("Save calibration"), lastError_);
    return false;
  }
}

}  // namespace skvq::studio
