#include "wizard_options_page.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>

#include "calibration_wizard.h"
#include "skvq/memory.h"
#include "wizard_model_page.h"

namespace skvq::studio {

WizardOptionsPage::WizardOptionsPage(QWidget* parent) : QWizardPage(parent) {
  setTitle(tr("Calibration data"));
  setSubTitle(tr("N samples of L tokens are drawn (with the seed) from the text; channels are "
                 "clustered for each group size."));
  text_ = new QLineEdit(this);
  text_->setObjectName("textPath");
  maxKiB_ = new QSpinBox(this);
  maxKiB_->setObjectName("maxKiB");
  maxKiB_->setRange(0, 1 << 20);
  maxKiB_->setValue(256);
  maxKiB_->setSuffix(tr(" KiB"));
  maxKiB_->setSpecialValueText(tr("whole file"));
  samples_ = new QSpinBox(this);
  samples_->setObjectName("samples");
  samples_->setRange(1, 4096);
  samples_->setValue(16);
  seqLen_ = new QSpinBox(this);
  seqLen_->setObjectName("seqLen");
  seqLen_->setRange(8, 1 << 20);
  seqLen_->setValue(256);
  groupSizes_ = new QLineEdit(QStringLiteral("8,16,32"), this);
  groupSizes_->setObjectName("groupSizes");
  seed_ = new QSpinBox(this);
  seed_->setObjectName("seed");
  seed_->setRange(0, 1 << 30);
  seed_->setValue(1234);
  auto* browse = new QPushButton(tr("Browse..."), this);
  browse->setObjectName("browseText");
  auto* row = new QHBoxLayout;
  row->addWidget(text_, 1);
  row->addWidget(browse);
  auto* form = new QFormLayout(this);
  form->addRow(tr("Text file:"), row);
  form->addRow(tr("Read at most:"), maxKiB_);
  form->addRow(tr("Samples N:"), samples_);
  form->addRow(tr("Length L (tokens):"), seqLen_);
  form->addRow(tr("Group sizes:"), groupSizes_);
  form->addRow(tr("Seed:"), seed_);
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("Calibration text"), text_->text(),
                                                   tr("Text (*.txt *.raw);;All files (*)"));
    if (!p.isEmpty()) text_->setText(p);
  });
  if (auto* w = qobject_cast<CalibrationWizard*>(parent))
    text_->setText(QDir(w->dataDir()).filePath(QStringLiteral("text/wikitext2/wiki.test.raw")));
}

void WizardOptionsPage::setOptions(const QString& text, int samples, int seqLen,
                                   const QString& groupSizes, int seed) {
  text_->setText(text);
  samples_->setValue(samples);
  seqLen_->setValue(seqLen);
  groupSizes_->setText(groupSizes);
  seed_->setValue(seed);
}

CalibrationWizardOptions WizardOptionsPage::options() const {
  CalibrationWizardOptions o;
  o.textPath = text_->text();
  o.maxKiB = maxKiB_->value();
  o.samples = samples_->value();
  o.seqLen = seqLen_->value();
  o.groupSizes = groupSizes_->text();
  o.seed = seed_->value();
  return o;
}

void WizardOptionsPage::setOptions(const CalibrationWizardOptions& o) {
  setOptions(o.textPath, o.samples, o.seqLen, o.groupSizes, o.seed);
  maxKiB_->setValue(o.maxKiB);
}

CalibrationRequest WizardOptionsPage::request() const {
  CalibrationRequest r;
  r.text_path = text_->text().toStdString();
  r.max_text_bytes = static_cast<int64_t>(maxKiB_->value()) * 1024;
  r.samples = samples_->value();
  r.seq_len = seqLen_->value();
  r.seed = static_cast<uint64_t>(seed_->value());
  r.group_sizes.clear();
  for (const QString& g : groupSizes_->text().split(',', Qt::SkipEmptyParts)) {
    bool ok = false;
    const int v = g.trimmed().toInt(&ok);
    r.group_sizes.push_back(ok ? v : -1);
  }
  return r;
}

namespace {
// The model's KV channels: from the inspection when it ended, else from the header alone.
int64_t kv_channels_of(const WizardModelPage* page) {
  if (page->info().kv_channels > 0) return page->info().kv_channels;
  try {
    return model_config_from_path(page->modelPath().toStdString()).kv_channels();
  } catch (const std::exception&) {
    return 0;  // the calibration names the problem
  }
}
}  // namespace

bool WizardOptionsPage::validatePage() {
  const CalibrationRequest r = request();
  QString problem;
  if (!QFileInfo(text_->text()).isFile()) problem = tr("%1: no such file").arg(text_->text());
  const auto* w = qobject_cast<CalibrationWizard*>(wizard());
  const int64_t channels = w ? kv_channels_of(w->modelPage()) : 0;
  if (r.group_sizes.empty()) problem = tr("group sizes: give at least one, e.g. 8,16,32");
  for (int64_t g : r.group_sizes) {
    if (g <= 0) problem = tr("group sizes: %1 is not a positive number").arg(groupSizes_->text());
    else if (channels > 0 && channels % g != 0)
      problem = tr("group size %1: must divide the %2 KV channels").arg(g).arg(channels);
  }
  lastProblem_ = problem;
  if (problem.isEmpty()) return true;
  if (!w || !w->quiet()) QMessageBox::warning(this, tr("Calibration data"), problem);
  return false;
}

}  // namespace skvq::studio
