#include "run_form.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>
#include <cmath>

#include "engine_runs.h"

namespace skvq::studio {

std::vector<std::string> split_list(const QString& text) {
  std::vector<std::string> out;
  for (const QString& s : text.split(QRegularExpression(QStringLiteral("[,;\\s]+")), Qt::SkipEmptyParts))
    out.push_back(s.toStdString());
  return out;
}

RunForm::RunForm(JobRunner* runner, const QString& title, QWidget* parent) : QDialog(parent), runner_(runner) {
  setWindowTitle(title);
  form_ = new QFormLayout;
  form_->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
  status_ = new QLabel(this);
  status_->setObjectName("status");
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  bar_ = new QProgressBar(this);
  bar_->setObjectName("progress");
  bar_->setValue(0);
  start_ = new QPushButton(tr("Start"), this);
  start_->setObjectName("start");
  start_->setDefault(true);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setObjectName("cancel");
  cancel_->setEnabled(false);
  auto* close = new QPushButton(tr("Close"), this);
  auto* row = new QHBoxLayout;
  row->addWidget(start_);
  row->addWidget(cancel_);
  row->addWidget(bar_, 1);
  row->addWidget(close);
  body_ = new QVBoxLayout;
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form_);
  layout->addLayout(body_, 1);
  layout->addWidget(status_);
  layout->addLayout(row);
  if (!runner_) {
    cancel_->hide();
    bar_->hide();
    row->insertStretch(1, 1);
  }
  connect(start_, &QPushButton::clicked, this, [this] { launch(); });
  connect(cancel_, &QPushButton::clicked, this, [this] {
    if (runner_) runner_->cancel();
  });
  connect(close, &QPushButton::clicked, this, &QDialog::hide);
  setMinimumWidth(600);
}

void RunForm::setStorePath(const QString& db, bool readOnly) {
  db_ = db;
  readOnly_ = readOnly;
}

void RunForm::setModelPath(const QString& path) {
  if (auto* model = findChild<QLineEdit*>(QStringLiteral("model"))) model->setText(path);
}

QLineEdit* RunForm::addLine(const QString& label, const QString& name, const QString& text, Browse browse,
                            const QString& filter) {
  auto* edit = new QLineEdit(text, this);
  edit->setObjectName(name);
  edit->setMinimumWidth(320);
  if (browse == Browse::None) {
    addField(label, edit);
    return edit;
  }
  auto* box = new QWidget(this);
  auto* row = new QHBoxLayout(box);
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(edit, 1);
  auto* button = new QPushButton(tr("Browse..."), box);
  button->setObjectName(name + QStringLiteral("Browse"));
  row->addWidget(button);
  connect(button, &QPushButton::clicked, this, [this, edit, browse, filter, label] {
    const QString start = QFileInfo(edit->text()).absolutePath();
    const QString path = browse == Browse::Directory ? QFileDialog::getExistingDirectory(this, label, start)
                         : browse == Browse::SaveFile ? QFileDialog::getSaveFileName(this, label, start, filter)
                                                      : QFileDialog::getOpenFileName(this, label, start, filter);
    if (!path.isEmpty()) edit->setText(path);
  });
  addField(label, box);
  errors_[edit] = errors_.take(box);
  errors_[edit]->setObjectName(name + QStringLiteral("Error"));
  return edit;
}

void RunForm::addField(const QString& label, QWidget* field) {
  auto* error = new QLabel(this);
  error->setObjectName(field->objectName() + QStringLiteral("Error"));
  error->setStyleSheet(QStringLiteral("color: #c00000;"));
  error->setWordWrap(true);
  error->hide();
  auto* cell = new QWidget(this);
  auto* v = new QVBoxLayout(cell);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(1);
  v->addWidget(field);
  v->addWidget(error);
  form_->addRow(label, cell);
  errors_[field] = error;
}

void RunForm::setFieldError(QWidget* field, const QString& message) {
  QLabel* error = errors_.value(field);
  if (!error) return;
  error->setObjectName(field->objectName() + QStringLiteral("Error"));
  error->setText(message);
  error->setVisible(!message.isEmpty());
}

QString RunForm::fieldError(const QString& fieldName) const {
  for (auto it = errors_.begin(); it != errors_.end(); ++it)
    if (it.key()->objectName() == fieldName) return it.value()->isHidden() ? QString() : it.value()->text();
  return QString();
}

QString RunForm::statusText() const { return status_->text(); }

void RunForm::setStatus(const QString& text, bool error) {
  status_->setStyleSheet(error ? QStringLiteral("color: #c00000;") : QString());
  status_->setText(text);
}

bool RunForm::checkPath(QLineEdit* field, bool dir, bool optional) {
  const QString path = field->text().trimmed();
  QString message;
  if (path.isEmpty()) {
    if (!optional) message = tr("required");
  } else if (!QFileInfo::exists(path)) {
    message = tr("%1: no such file or directory").arg(path);
  } else if (dir && !QFileInfo(path).isDir()) {
    message = tr("%1 is not a directory").arg(path);
  }
  setFieldError(field, message);
  return message.isEmpty();
}

bool RunForm::checkConfigs(QLineEdit* field, const QString& modelPath, std::vector<std::string>* configs,
                           bool* needsCalibration) {
  *configs = split_list(field->text());
  QStringList problems;
  bool needs = false;
  if (configs->empty()) problems << tr("give at least one configuration, e.g. k2-v2-g16-sink4-fp8");
  for (const std::string& c : *configs) {
    const std::string error = config_error(c, modelPath.trimmed().toStdString());
    if (!error.empty()) problems << QString::fromStdString(error);
    needs = needs || config_needs_calibration(c);
  }
  if (needsCalibration) *needsCalibration = needs;
  setFieldError(field, problems.join('\n'));
  return problems.isEmpty();
}

bool RunForm::checkCalibration(QLineEdit* field, bool needed) {
  if (!checkPath(field, false, true)) return false;
  if (needed && field->text().trimmed().isEmpty()) {
    setFieldError(field, tr("a reorder/smooth configuration needs a calibration file"));
    return false;
  }
  return true;
}

bool RunForm::checkIntList(QLineEdit* field, std::vector<int64_t>* out) {
  out->clear();
  QString message;
  for (const std::string& s : split_list(field->text())) {
    bool ok = false;
    const qlonglong v = QString::fromStdString(s).toLongLong(&ok);
    if (!ok || v <= 0) {
      message = tr("'%1' is not a positive whole number").arg(QString::fromStdString(s));
      break;
    }
    out->push_back(v);
  }
  if (message.isEmpty() && out->empty()) message = tr("give at least one number");
  setFieldError(field, message);
  return message.isEmpty();
}

bool RunForm::checkPercentList(QLineEdit* field, std::vector<double>* out) {
  out->clear();
  QString message;
  for (const std::string& s : split_list(field->text())) {
    bool ok = false;
    const double v = QString::fromStdString(s).toDouble(&ok);
    if (!ok || !std::isfinite(v) || v < 0 || v > 100) {
      message = tr("'%1' is not a percent from 0 to 100").arg(QString::fromStdString(s));
      break;
    }
    out->push_back(v);
  }
  if (message.isEmpty() && out->empty()) message = tr("give at least one depth");
  setFieldError(field, message);
  return message.isEmpty();
}

bool RunForm::validate() {
  const bool ok = checkFields();
  if (!ok) setStatus(tr("Fix the fields marked in red."), true);
  return ok;
}

bool RunForm::launch() {
  if (!validate()) return false;
  if (db_.isEmpty() || !runner_) {
    setStatus(tr("Open a run store first (File > Open run store)."), true);
    return false;
  }
  if (readOnly_) {
    setStatus(tr("%1 is open read-only: a new run cannot be stored in it.").arg(db_), true);
    return false;
  }
  const QString name = windowTitle();
  if (!runner_->start(name, work(db_.toStdString()))) {
    setStatus(tr("Another job is running; wait for it or cancel it."), true);
    return false;
  }
  start_->setEnabled(false);
  cancel_->setEnabled(true);
  bar_->setRange(0, 0);
  setStatus(tr("Running..."));
  auto* ctx = new QObject(this);
  connect(runner_, &JobRunner::progress, ctx, [this](qint64 done, qint64 total) {
    bar_->setRange(0, static_cast<int>(total));
    bar_->setValue(static_cast<int>(done));
  });
  connect(runner_, &JobRunner::finished, ctx, [this](const QString&, const QVariant& result) {
    const QVariantMap map = result.toMap();
    QList<qint64> ids;
    for (const QVariant& v : map.value(QStringLiteral("ids")).toList()) ids << v.toLongLong();
    QStringList shown;
    for (qint64 id : ids) shown << QString::number(id);
    setStatus(tr("Done: stored run(s) %1.").arg(shown.join(QStringLiteral(", "))));
    Q_EMIT runsStored(ids);
    showResult(map);
  });
  connect(runner_, &JobRunner::failed, ctx, [this](const QString&, const QString& message) {
    setStatus(tr("Failed: %1").arg(message), true);
  });
  connect(runner_, &JobRunner::cancelled, ctx, [this] { setStatus(tr("Cancelled; finished parts are kept.")); });
  connect(runner_, &JobRunner::idle, ctx, [this, ctx] {
    start_->setEnabled(true);
    cancel_->setEnabled(false);
    if (bar_->maximum() == 0) bar_->setRange(0, 1);
    ctx->deleteLater();
  });
  return true;
}

}  // namespace skvq::studio
