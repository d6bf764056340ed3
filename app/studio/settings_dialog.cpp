#include "settings_dialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include "studio_settings.h"

namespace skvq::studio {

namespace {
QWidget* withBrowse(QLineEdit* edit, bool directory, QWidget* parent) {
  auto* box = new QWidget(parent);
  auto* row = new QHBoxLayout(box);
  row->setContentsMargins(0, 0, 0, 0);
  auto* browse = new QPushButton(QObject::tr("Browse..."), box);
  row->addWidget(edit);
  row->addWidget(browse);
  QObject::connect(browse, &QPushButton::clicked, box, [edit, directory, box] {
    const QString path = directory
        ? QFileDialog::getExistingDirectory(box, QObject::tr("Data directory"), edit->text())
        : QFileDialog::getSaveFileName(box, QObject::tr("Run store"), edit->text(),
                                       QObject::tr("SQLite (*.sqlite *.db);;All files (*)"),
                                       nullptr, QFileDialog::DontConfirmOverwrite);
    if (!path.isEmpty()) edit->setText(path);
  });
  return box;
}
}  // namespace

SettingsDialog::SettingsDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Settings"));
  StudioSettings s;
  dataDir_ = new QLineEdit(s.dataDir(), this);
  dataDir_->setObjectName("dataDir");
  database_ = new QLineEdit(s.databasePath(), this);
  database_->setObjectName("databasePath");
  threads_ = new QSpinBox(this);
  threads_->setObjectName("threads");
  threads_->setRange(0, 256);
  threads_->setSpecialValueText(tr("all cores"));
  threads_->setValue(s.threads());
  auto* form = new QFormLayout(this);
  form->addRow(tr("Data directory:"), withBrowse(dataDir_, true, this));
  form->addRow(tr("Run store:"), withBrowse(database_, false, this));
  form->addRow(tr("Threads:"), threads_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  form->addRow(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] { save(); accept(); });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

void SettingsDialog::save() {
  StudioSettings s;
  s.setDataDir(dataDir_->text());
  s.setDatabasePath(database_->text());
  s.setThreads(threads_->value());
}

}  // namespace skvq::studio
