#include "wizard_model_page.h"

#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "calibration_wizard.h"

namespace skvq::studio {

WizardModelPage::WizardModelPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Model"));
  setSubTitle(tr("A llama2.c checkpoint (.bin) or a Hugging Face model directory."));
  path_ = new QLineEdit(this);
  path_->setObjectName("modelPath");
  auto* file = new QPushButton(tr("File..."), this);
  auto* dir = new QPushButton(tr("Directory..."), this);
  auto* load = new QPushButton(tr("Inspect"), this);
  load->setObjectName("inspect");
  description_ = new QLabel(this);
  description_->setObjectName("description");
  description_->setWordWrap(true);
  description_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* row = new QHBoxLayout;
  row->addWidget(path_, 1);
  row->addWidget(file);
  row->addWidget(dir);
  row->addWidget(load);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(row);
  layout->addWidget(description_);
  layout->addStretch(1);
  connect(file, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("llama2.c checkpoint"), path_->text(),
                                                   tr("llama2.c (*.bin);;All files (*)"));
    if (!p.isEmpty()) setModelPath(p);
  });
  connect(dir, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getExistingDirectory(this, tr("Hugging Face model directory"), path_->text());
    if (!p.isEmpty()) setModelPath(p);
  });
  connect(load, &QPushButton::clicked, this, [this] { inspect(); });
  connect(path_, &QLineEdit::textChanged, this, [this] {
    ok_ = false;
    Q_EMIT completeChanged();
  });
  if (auto* w = qobject_cast<CalibrationWizard*>(parent))
    path_->setText(QDir(w->dataDir()).filePath(QStringLiteral("models/stories260K/stories260K.bin")));
}

QString WizardModelPage::modelPath() const { return path_->text(); }

void WizardModelPage::setModelPath(const QString& path) {
  path_->setText(path);
  inspect();
}

bool WizardModelPage::inspect() {
  try {
    info_ = inspect_model(path_->text().toStdString());
    description_->setText(tr("<b>%1</b><br>%2<br>sha256 %3")
                              .arg(QString::fromStdString(info_.name).toHtmlEscaped(),
                                   QString::fromStdString(info_.description).toHtmlEscaped(),
                                   QString::fromStdString(info_.sha256)));
    ok_ = true;
  } catch (const std::exception& e) {
    description_->setText(tr("<span style='color:#b00'>Cannot load the model: %1</span>")
                              .arg(QString::fromStdString(e.what()).toHtmlEscaped()));
    ok_ = false;
  }
  Q_EMIT completeChanged();
  return ok_;
}

QString WizardModelPage::description() const { return description_->text(); }

bool WizardModelPage::isComplete() const { return ok_; }

}  // namespace skvq::studio
