#include "wizard_model_page.h"

#include <QDir>
#include <QEventLoop>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrent>

#include "calibration_wizard.h"
#include "wizard_model_check.h"

namespace skvq::studio {

namespace {
QPushButton* button(const QString& text, const QString& name, QWidget* parent) {
  auto* b = new QPushButton(text, parent);
  b->setObjectName(name);
  return b;
}
QString error_html(const QString& text) {
  return QStringLiteral("<span style='color:#b00'>%1</span>").arg(text.toHtmlEscaped());
}
}  // namespace

WizardModelPage::WizardModelPage(QWidget* parent) : QWizardPage(parent), inspector_(inspect_model) {
  setTitle(tr("Model"));
  setSubTitle(tr("A llama2.c checkpoint (.bin), a GGUF file or a Hugging Face model directory."));
  path_ = new QLineEdit(this);
  path_->setObjectName("modelPath");
  tokenizer_ = new QLineEdit(this);
  tokenizer_->setObjectName("tokenizerPath");
  tokenizer_->setPlaceholderText(tr("found beside the model"));
  auto* file = button(tr("File..."), "browseModelFile", this);
  auto* dir = button(tr("Directory..."), "browseModelDir", this);
  auto* load = button(tr("Inspect"), "inspect", this);
  load->setToolTip(tr("Load the weights again and show the configuration and sha256"));
  auto* tokBrowse = button(tr("Browse..."), "browseTokenizer", this);
  description_ = new QLabel(this);
  description_->setObjectName("description");
  description_->setWordWrap(true);
  description_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  tokNote_ = new QLabel(this);
  tokNote_->setObjectName("tokenizerProblem");
  tokNote_->setWordWrap(true);
  tokNote_->hide();
  debounce_ = new QTimer(this);
  debounce_->setSingleShot(true);
  debounce_->setInterval(400);
  auto* modelRow = new QHBoxLayout;
  modelRow->addWidget(path_, 1);
  for (QPushButton* b : {file, dir, load}) modelRow->addWidget(b);
  auto* tokRow = new QHBoxLayout;
  tokRow->addWidget(tokenizer_, 1);
  tokRow->addWidget(tokBrowse);
  auto* form = new QFormLayout;
  form->addRow(tr("Model:"), modelRow);
  form->addRow(tr("Tokenizer:"), tokRow);
  form->addRow(QString(), tokNote_);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(description_);
  layout->addStretch(1);
  connect(file, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getOpenFileName(this, tr("Model file"), path_->text(),
                                                   tr("Models (*.bin *.gguf);;All files (*)"));
    if (!p.isEmpty()) setModelPath(p);
  });
  connect(dir, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getExistingDirectory(this, tr("Hugging Face model directory"), path_->text());
    if (!p.isEmpty()) setModelPath(p);
  });
  connect(tokBrowse, &QPushButton::clicked, this, [this] {
    const QString start = tokenizer_->text().isEmpty() ? QFileInfo(path_->text()).absolutePath() : tokenizer_->text();
    const QString p = QFileDialog::getOpenFileName(this, tr("Tokenizer"), start,
                                                   tr("Tokenizers (*.bin *.json *.model);;All files (*)"));
    if (!p.isEmpty()) tokenizer_->setText(p);
  });
  connect(load, &QPushButton::clicked, this, [this] { inspect(); });
  connect(path_, &QLineEdit::textChanged, this, [this] { pathEdited(); });
  connect(tokenizer_, &QLineEdit::textChanged, this, [this] {
    const QString problem = check_tokenizer_path(tokenizer_->text());
    tokNote_->setText(error_html(problem));
    tokNote_->setVisible(!problem.isEmpty());
    Q_EMIT completeChanged();
  });
  connect(debounce_, &QTimer::timeout, this, [this] { inspect(); });
  connect(&watcher_, &QFutureWatcher<Outcome>::finished, this, [this] { onInspected(); });
  if (auto* w = qobject_cast<CalibrationWizard*>(parent))
    path_->setText(QDir(w->dataDir()).filePath(QStringLiteral("models/stories260K/stories260K.bin")));
}

WizardModelPage::~WizardModelPage() { ++generation_; }

QString WizardModelPage::modelPath() const { return path_->text(); }

void WizardModelPage::setModelPath(const QString& path) {
  const QSignalBlocker block(path_);
  path_->setText(path);
  pathEdited();
  inspect();
}

QString WizardModelPage::tokenizerPath() const { return tokenizer_->text(); }
void WizardModelPage::setTokenizerPath(const QString& path) { tokenizer_->setText(path); }

void WizardModelPage::pathEdited() {
  ++generation_;  // a running inspection is of another path now
  inspecting_ = failed_ = false;
  info_ = ModelInfo{};
  const ModelPathCheck check = check_model_path(path_->text());
  pathOk_ = check.ok;
  kind_ = check.kind;
  if (check.ok) {
    description_->setText(tr("%1. Its configuration and sha256 follow once the weights are loaded.").arg(kind_));
    debounce_->start();
  } else {
    description_->setText(error_html(check.problem));
    debounce_->stop();
  }
  Q_EMIT completeChanged();
}

void WizardModelPage::inspect() {
  debounce_->stop();
  if (!pathOk_) return;
  const int generation = ++generation_;
  inspecting_ = true;
  failed_ = false;
  description_->setText(tr("%1: loading the weights and computing the sha256...").arg(kind_));
  watcher_.setFuture(QtConcurrent::run([inspector = inspector_, path = path_->text().toStdString(), generation] {
    Outcome out;
    out.generation = generation;
    try {
      out.info = inspector(path);
    } catch (const std::exception& e) {
      out.error = QString::fromStdString(e.what());
    }
    return out;
  }));
}

void WizardModelPage::onInspected() {
  const Outcome out = watcher_.result();
  if (out.generation != generation_) return;  // the path changed since
  inspecting_ = false;
  failed_ = !out.error.isEmpty();
  if (failed_) {
    description_->setText(error_html(tr("Cannot load the model: %1").arg(out.error)));
  } else {
    info_ = out.info;
    description_->setText(tr("<b>%1</b> (%2)<br>%3<br>sha256 %4")
                              .arg(QString::fromStdString(info_.name).toHtmlEscaped(), kind_,
                                   QString::fromStdString(info_.description).toHtmlEscaped(),
                                   QString::fromStdString(info_.sha256)));
  }
  Q_EMIT completeChanged();
  Q_EMIT inspected(!failed_);
}

bool WizardModelPage::isInspecting() const { return inspecting_; }

bool WizardModelPage::waitForInspection(int timeoutMs) {
  if (!inspecting_) return true;
  QEventLoop loop;
  connect(this, &WizardModelPage::inspected, &loop, &QEventLoop::quit);
  connect(this, &WizardModelPage::completeChanged, &loop, [this, &loop] {
    if (!inspecting_) loop.quit();  // the path changed: this inspection will not report
  });
  QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
  loop.exec();
  return !inspecting_;
}

QString WizardModelPage::description() const { return description_->text(); }

bool WizardModelPage::isComplete() const {
  return pathOk_ && !failed_ && check_tokenizer_path(tokenizer_->text()).isEmpty();
}

}  // namespace skvq::studio
