#include "comparison_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

#include "curve_plot.h"
#include "engine.h"
#include "grouped_bar_plot.h"
#include "job_runner.h"

namespace skvq::studio {
namespace {

QSpinBox* spin(QWidget* parent, const char* name, int lo, int hi, int value) {
  auto* s = new QSpinBox(parent);
  s->setObjectName(name);
  s->setRange(lo, hi);
  s->setValue(value);
  return s;
}

}  // namespace

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
  model_ = new QComboBox(this);
  model_->setObjectName("model");
  settings_ = new QComboBox(this);
  settings_->setObjectName("settings");
  settings_->setToolTip(tr("Runs are compared only within one measurement setting: text and slice, ctx_len, "
                           "scored tokens and protocol."));
  settings_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  settings_->setMinimumContentsLength(40);
  yAxis_ = new QComboBox(this);
  yAxis_->setObjectName("yAxis");
  yAxis_->addItems({tr("PPL"), tr("ΔPPL vs own baseline"), tr("PPL (log)")});
  baselineNote_ = new QLabel(this);
  baselineNote_->setObjectName("baselineNote");
  baselineNote_->setWordWrap(true);
  baseline_ = new QPushButton(tr("Evaluate fp16 baseline"), this);
  baseline_->setObjectName("evaluateBaseline");
  table_ = new QTableWidget(0, 10, this);
  table_->setObjectName("pplTable");
  table_->setHorizontalHeaderLabels({tr("Run"), tr("System"), tr("Config"), tr("Calibration"), tr("PPL"), tr("ΔPPL"),
                                     tr("bits K"), tr("bits V"), tr("KV bytes/token"), tr("tokens")});
  table_->horizontalHeader()->setSectionResizeMode(2, QHeaderView::Stretch);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setSortingEnabled(true);
  table_->verticalHeader()->hide();
  pplPlot_ = new gui::CurvePlot(this);
  pplPlot_->setObjectName("pplPlot");
  bytesPlot_ = new gui::GroupedBarPlot(this);
  bytesPlot_->setObjectName("bytesPlot");
  bytesPlot_->setTitles(tr("KV-cache bytes per token (whole model)"), QString(), tr("bytes"));
  bytesPlot_->legend->setVisible(false);
  memoryPlot_ = new gui::CurvePlot(this);
  memoryPlot_->setObjectName("memoryPlot");
  memoryPlot_->setTitles(tr("KV-cache memory vs context length"), tr("context length (tokens)"), tr("MiB"));
  memoryPlot_->setLegendOutside(true);
  pplPlot_->setLegendOutside(true);  // the markers' legend never covers points
  table_->setMinimumHeight(60);  // the splitters share the height; a 1280x720 screen fits the window
  for (QWidget* w : std::initializer_list<QWidget*>{pplPlot_, bytesPlot_, memoryPlot_}) w->setMinimumHeight(130);

  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Model:"), this));
  top->addWidget(model_, 1);
  top->addWidget(new QLabel(tr("Settings:"), this));
  top->addWidget(settings_, 3);
  top->addWidget(new QLabel(tr("y axis:"), this));
  top->addWidget(yAxis_);
  auto* note = new QHBoxLayout;
  note->addWidget(baselineNote_, 1);
  note->addWidget(baseline_);
  auto* plots = new QSplitter(Qt::Horizontal, this);
  plots->addWidget(pplPlot_);
  plots->addWidget(bytesPlot_);
  plots->addWidget(memoryPlot_);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(table_);
  split->addWidget(plots);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addLayout(note);
  layout->addWidget(split, 1);
  layout->addLayout(buildEvaluateRow());

  connect(model_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
  connect(settings_, &QComboBox::currentIndexChanged, this, [this] {
    applyGroupDefaults();
    redraw();
  });
  connect(yAxis_, &QComboBox::currentIndexChanged, this, [this] {
    QSettings().setValue(QStringLiteral("comparison/yAxis"), yAxis_->currentIndex());
    drawPplPlot();
  });
  connect(evaluate_, &QPushButton::clicked, this, [this] { evaluate(); });
  connect(baseline_, &QPushButton::clicked, this, [this] { evaluateBaseline(); });
  connect(table_, &QTableWidget::itemSelectionChanged, this, [this] {
    if (syncing_) return;
    const qint64 id = selectedRun();
    pplPlot_->highlight(id);
    int category = -1;
    for (size_t i = 0; i < rows_.size(); ++i)
      if (rows_[i].run_id == id) category = static_cast<int>(i);
    bytesPlot_->highlight(category);
  });
  connect(pplPlot_, &gui::CurvePlot::pointClicked, this, [this](qint64 id) { selectRun(id); });
  connect(bytesPlot_, &gui::GroupedBarPlot::categoryClicked, this, [this](int c) {
    if (c >= 0 && c < static_cast<int>(rows_.size())) selectRun(rows_[static_cast<size_t>(c)].run_id);
  });
  yAxis_->setCurrentIndex(QSettings().value(QStringLiteral("comparison/yAxis"), 0).toInt());
  setDataDir(QString::fromStdString(skvq::data_dir()));
}

QLayout* ComparisonView::buildEvaluateRow() {
  const QSettings qs;
  config_ = new QLineEdit(qs.value(QStringLiteral("comparison/config"), QStringLiteral("k2-v2-g16-w16-clip-sink4-fp8")).toString(), this);
  config_->setObjectName("configEdit");
  calibration_ = new QComboBox(this);
  calibration_->setObjectName("calibration");
  text_ = new QLineEdit(this);
  text_->setObjectName("textPath");
  ctxLen_ = spin(this, "ctxLen", 16, 1 << 20, 256);
  chunks_ = spin(this, "maxChunks", 0, 1 << 20, 4);
  chunks_->setSpecialValueText(tr("all"));
  maxBytes_ = spin(this, "maxBytes", 0, 1 << 30, 200000);
  maxBytes_->setSpecialValueText(tr("all"));
  skipBytes_ = spin(this, "skipBytes", 0, 1 << 30, 0);
  protocol_ = new QComboBox(this);
  protocol_->setObjectName("protocol");
  protocol_->addItems({QStringLiteral("reference"), QStringLiteral("llama.cpp")});
  evaluate_ = new QPushButton(tr("Add configuration and evaluate"), this);
  evaluate_->setObjectName("evaluate");
  auto* add = new QGridLayout;
  add->addWidget(new QLabel(tr("Configuration:"), this), 0, 0);
  add->addWidget(config_, 0, 1);
  add->addWidget(new QLabel(tr("Calibration:"), this), 0, 2);
  add->addWidget(calibration_, 0, 3);
  add->addWidget(new QLabel(tr("Text:"), this), 1, 0);
  add->addWidget(text_, 1, 1);
  auto* spins = new QHBoxLayout;
  for (auto [label, w] : {std::pair<QString, QWidget*>{tr("ctx"), ctxLen_}, {tr("chunks"), chunks_},
                          {tr("max bytes"), maxBytes_}, {tr("skip bytes"), skipBytes_}, {tr("protocol"), protocol_}}) {
    spins->addWidget(new QLabel(label, this));
    spins->addWidget(w);
  }
  add->addLayout(spins, 1, 2, 1, 2);
  add->addWidget(evaluate_, 0, 4, 2, 1);
  return add;
}

void ComparisonView::setDataDir(const QString& dir) {
  text_->setText(QDir(dir).filePath(QStringLiteral("text/tinystories/tinystories_val.txt")));
}

void ComparisonView::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

const ModelRecord* ComparisonView::currentModel() const {
  const qint64 modelId = model_->currentData().toLongLong();
  for (const ModelRecord& m : models_)
    if (m.id == modelId) return &m;
  return nullptr;
}

void ComparisonView::refresh() {
  const QVariant current = model_->currentData();
  models_ = store_ ? store_->list_models() : std::vector<ModelRecord>{};
  {
    QSignalBlocker block(model_);
    model_->clear();
    for (const ModelRecord& m : models_)
      model_->addItem(QString::fromStdString(m.name), qlonglong(m.id));
    if (model_->findData(current) >= 0) model_->setCurrentIndex(model_->findData(current));
  }
  redraw();
}

void ComparisonView::redraw() {
  const ModelRecord* model = currentModel();
  runs_.clear();
  std::vector<CalibrationRecord> calibrations;
  if (store_ && model) {
    for (const char* kind : {"ppl", "peer"}) {
      RunFilter f;
      f.kind = kind;
      f.model_id = model->id;
      for (RunRecord& r : store_->list_runs(f))
        if (r.status == "done") runs_.push_back(std::move(r));
    }
    calibrations = store_->list_calibrations(model->id);
  }
  {
    QSignalBlocker block(calibration_);
    const QString keep = calibration_->currentData().toString();
    calibration_->clear();
    calibration_->addItem(tr("(none)"), QString());
    for (const CalibrationRecord& c : calibrations)
      calibration_->addItem(QFileInfo(QString::fromStdString(c.path)).fileName(), QString::fromStdString(c.path));
    const int k = calibration_->findData(keep);
    calibration_->setCurrentIndex(k > 0 ? k : (calibration_->count() > 1 ? 1 : 0));
  }
  groups_ = settings_groups(runs_);
  {
    QSignalBlocker block(settings_);
    const QString keep = settings_->currentData().toString();
    settings_->clear();
    for (const SettingsGroup& g : groups_)
      settings_->addItem(tr("%1 (%n runs)", nullptr, g.count).arg(QString::fromStdString(g.label)), QString::fromStdString(g.key));
    const int k = settings_->findData(keep);
    settings_->setCurrentIndex(k >= 0 ? k : 0);
    if (k < 0) applyGroupDefaults();
  }
  const std::string key = settings_->currentData().toString().toStdString();
  rows_ = groups_.empty() ? std::vector<ComparisonRow>{} : comparison_rows(runs_, key, calibrations);
  fillTable();
  updateBaselineNote();
  drawPplPlot();
  drawBytesPlot();
  drawMemoryPlot();
}

void ComparisonView::applyGroupDefaults() {
  const int i = settings_->currentIndex();
  if (i < 0 || i >= static_cast<int>(groups_.size())) return;
  const RunRecord& r = groups_[static_cast<size_t>(i)].example;
  const auto& p = r.params;
  if (p.contains("ctx_len") && p["ctx_len"].is_number()) ctxLen_->setValue(p["ctx_len"].get<int>());
  if (p.contains("max_chunks") && p["max_chunks"].is_number()) chunks_->setValue(p["max_chunks"].get<int>());
  if (p.contains("max_bytes") && p["max_bytes"].is_number()) maxBytes_->setValue(p["max_bytes"].get<int>());
  skipBytes_->setValue(p.contains("skip_bytes") && p["skip_bytes"].is_number() ? p["skip_bytes"].get<int>() : 0);
  protocol_->setCurrentText(p.contains("protocol") && p["protocol"].is_string()
                                ? QString::fromStdString(p["protocol"].get<std::string>()) : QStringLiteral("reference"));
  if (!r.data_path.empty()) text_->setText(QString::fromStdString(r.data_path));
}

void ComparisonView::fillTable() {
  QSignalBlocker block(table_);
  table_->setSortingEnabled(false);
  table_->clearContents();
  table_->setRowCount(static_cast<int>(rows_.size()));
  for (int row = 0; row < static_cast<int>(rows_.size()); ++row) {
    const ComparisonRow& r = rows_[static_cast<size_t>(row)];
    auto text = [&](int col, const std::string& s) { table_->setItem(row, col, new QTableWidgetItem(QString::fromStdString(s))); };
    auto num = [&](int col, double v, int prec) {
      auto* item = new QTableWidgetItem;
      item->setData(Qt::DisplayRole, std::isfinite(v) ? QVariant(QString::number(v, 'f', prec).toDouble()) : QVariant(QStringLiteral("-")));
      table_->setItem(row, col, item);
    };
    num(0, static_cast<double>(r.run_id), 0);
    table_->item(row, 0)->setData(Qt::UserRole, qlonglong(r.run_id));
    text(1, r.system);
    if (!r.version.empty()) table_->item(row, 1)->setToolTip(QString::fromStdString(r.version));
    text(2, r.config);
    text(3, r.calibration);
    num(4, r.ppl, 4);
    num(5, r.delta_ppl, 4);
    if (!r.has_baseline)
      table_->item(row, 5)->setToolTip(tr("No unquantized run of %1 in these settings").arg(QString::fromStdString(r.system)));
    num(6, r.bits_k, 3);
    num(7, r.bits_v, 3);
    num(8, r.kv_bytes_per_token, 1);
    num(9, r.tokens, 0);
  }
  table_->setSortingEnabled(true);
  table_->resizeColumnsToContents();
}

void ComparisonView::updateBaselineNote() {
  bool ours = false, oursBaseline = false;
  for (const ComparisonRow& r : rows_)
    if (!r.peer) {
      ours = true;
      oursBaseline = oursBaseline || r.unquantized;
    }
  baseline_->setVisible(ours && !oursBaseline);
  if (rows_.empty())
    baselineNote_->setText(tr("No perplexity runs for this model yet: evaluate a configuration below, or run "
                              "`skvq ppl` / `skvq batch` and Tools > Refresh."));
  else if (ours && !oursBaseline)
    baselineNote_->setText(tr("ΔPPL is \"-\": these settings have no fp16 run of ours to measure against. "
                              "Evaluate it with the button (same settings as the runs shown)."));
  else
    baselineNote_->setText(tr("ΔPPL: each row's PPL minus its own system's unquantized PPL in these settings "
                              "(llama.cpp's rows against llama.cpp f16)."));
}

qint64 ComparisonView::selectedRun() const {
  const auto rows = table_->selectionModel() ? table_->selectionModel()->selectedRows() : QModelIndexList{};
  if (rows.isEmpty()) return -1;
  const QTableWidgetItem* item = table_->item(rows.first().row(), 0);
  return item ? item->data(Qt::UserRole).toLongLong() : -1;
}

bool ComparisonView::selectRun(qint64 runId) {
  for (int row = 0; row < table_->rowCount(); ++row) {
    const QTableWidgetItem* item = table_->item(row, 0);
    if (item && item->data(Qt::UserRole).toLongLong() == runId) {
      table_->selectRow(row);
      table_->scrollToItem(item);
      return true;
    }
  }
  return false;
}

bool ComparisonView::showRun(qint64 runId) {
  const std::optional<RunRecord> run = store_ ? store_->get_run(runId) : std::nullopt;
  if (!run) return false;
  refresh();
  const int m = model_->findData(qlonglong(run->model_id));
  if (m >= 0 && m != model_->currentIndex()) model_->setCurrentIndex(m);
  const int g = settings_->findData(QString::fromStdString(settings_key(*run)));
  if (g >= 0 && g != settings_->currentIndex()) settings_->setCurrentIndex(g);
  return selectRun(runId);
}

bool ComparisonView::evaluate() {
  QSettings().setValue(QStringLiteral("comparison/config"), config_->text().trimmed());
  return startEvaluation(config_->text().trimmed());
}

bool ComparisonView::evaluateBaseline() { return startEvaluation(QStringLiteral("fp16")); }

bool ComparisonView::startEvaluation(const QString& config) {
  const ModelRecord* model = currentModel();
  if (!store_ || !runner_ || !model) {
    Q_EMIT errorOccurred(tr("Evaluate"), tr("No model in the run store: calibrate or run `skvq ppl` first."));
    return false;
  }
  if (store_->read_only()) {
    Q_EMIT errorOccurred(tr("Evaluate"), tr("%1 is open read-only: a new run cannot be stored in it. Open it with "
                                            "File > Open run store to evaluate.").arg(QString::fromStdString(store_->path())));
    return false;
  }
  PplRequest req;
  req.model_path = model->path;
  req.text_path = text_->text().toStdString();
  req.config = config.toStdString();
  if (config != QLatin1String("fp16")) req.calibration_path = calibration_->currentData().toString().toStdString();
  req.ctx_len = ctxLen_->value();
  req.max_chunks = chunks_->value();
  req.max_bytes = maxBytes_->value();
  req.skip_bytes = skipBytes_->value();
  req.protocol = protocol_->currentText().toStdString();
  const std::string db = store_->path();
  const bool ok = runner_->start(tr("PPL %1").arg(config), [req, db](ProgressFn p, CancelFlag c) {
    return QVariant(qlonglong(run_perplexity(req, db, p, c)));
  });
  if (!ok) {
    Q_EMIT errorOccurred(tr("Evaluate"), tr("Another job is running; wait for it or cancel it."));
    return false;
  }
  evaluate_->setEnabled(false);
  baseline_->setEnabled(false);
  auto* ctx = new QObject(this);
  connect(runner_, &JobRunner::finished, ctx, [this](const QString&, const QVariant& result) {
    showRun(result.toLongLong());
    Q_EMIT runAdded(result.toLongLong());
  });
  connect(runner_, &JobRunner::failed, ctx, [this, req](const QString&, const QString& message) {
    Q_EMIT errorOccurred(tr("Evaluation of %1 failed").arg(QString::fromStdString(req.config)), message);
  });
  connect(runner_, &JobRunner::idle, ctx, [this, ctx] {
    evaluate_->setEnabled(true);
    baseline_->setEnabled(true);
    ctx->deleteLater();
  });
  return true;
}

}  // namespace skvq::studio
