#include "comparison_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

#include "colour_scale.h"
#include "curve_plot.h"
#include "engine.h"
#include "grouped_bar_plot.h"
#include "job_runner.h"
#include "json_util.h"

namespace skvq::studio {

ComparisonView::ComparisonView(QWidget* parent) : QWidget(parent) {
  model_ = new QComboBox(this);
  model_->setObjectName("model");
  table_ = new QTableWidget(0, 8, this);
  table_->setObjectName("pplTable");
  table_->setHorizontalHeaderLabels({tr("Run"), tr("Config"), tr("PPL"), tr("ΔPPL"), tr("bits K"),
                                     tr("bits V"), tr("KV bytes/token"), tr("tokens")});
  table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSortingEnabled(true);
  table_->verticalHeader()->hide();
  pplPlot_ = new gui::CurvePlot(this);
  pplPlot_->setObjectName("pplPlot");
  pplPlot_->setTitles(tr("Perplexity vs average stored bits (K+V)/2"), tr("bits per element"), tr("PPL"));
  bytesPlot_ = new gui::GroupedBarPlot(this);
  bytesPlot_->setObjectName("bytesPlot");
  bytesPlot_->setTitles(tr("KV-cache bytes per token (whole model)"), tr("configuration"), tr("bytes"));
  memoryPlot_ = new gui::CurvePlot(this);
  memoryPlot_->setObjectName("memoryPlot");
  memoryPlot_->setTitles(tr("KV-cache memory vs context length"), tr("context length (tokens)"), tr("MiB"));

  config_ = new QLineEdit(QStringLiteral("k2-v2-g16-w16-clip-sink4-fp8"), this);
  config_->setObjectName("configEdit");
  calibration_ = new QComboBox(this);
  calibration_->setObjectName("calibration");
  text_ = new QLineEdit(this);
  text_->setObjectName("textPath");
  ctxLen_ = new QSpinBox(this);
  ctxLen_->setObjectName("ctxLen");
  ctxLen_->setRange(16, 1 << 20);
  ctxLen_->setValue(256);
  chunks_ = new QSpinBox(this);
  chunks_->setObjectName("maxChunks");
  chunks_->setRange(0, 1 << 20);
  chunks_->setValue(4);
  chunks_->setSpecialValueText(tr("all"));
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
  spins->addWidget(new QLabel(tr("ctx"), this));
  spins->addWidget(ctxLen_);
  spins->addWidget(new QLabel(tr("chunks"), this));
  spins->addWidget(chunks_);
  add->addLayout(spins, 1, 2);
  add->addWidget(evaluate_, 1, 3);

  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Model:"), this));
  top->addWidget(model_, 1);
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
  layout->addWidget(split, 1);
  layout->addLayout(add);

  connect(model_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
  connect(evaluate_, &QPushButton::clicked, this, [this] { evaluate(); });
  setDataDir(QString::fromStdString(skvq::data_dir()));
}

void ComparisonView::setDataDir(const QString& dir) {
  text_->setText(QDir(dir).filePath(QStringLiteral("text/tinystories/tinystories_val.txt")));
}

void ComparisonView::setStore(RunStore* store) {
  store_ = store;
  refresh();
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
  runs_.clear();
  calibration_->clear();
  calibration_->addItem(tr("(none)"), QString());
  const qint64 modelId = model_->currentData().toLongLong();
  const ModelRecord* model = nullptr;
  for (const ModelRecord& m : models_)
    if (m.id == modelId) model = &m;
  if (store_ && model) {
    RunFilter f;
    f.kind = "ppl";
    f.model_id = modelId;
    for (RunRecord& r : store_->list_runs(f))
      if (r.status == "done") runs_.push_back(std::move(r));
    for (const CalibrationRecord& c : store_->list_calibrations(modelId))
      calibration_->addItem(QFileInfo(QString::fromStdString(c.path)).fileName(),
                            QString::fromStdString(c.path));
    if (calibration_->count() > 1) calibration_->setCurrentIndex(1);
  }
  table_->setSortingEnabled(false);
  table_->setRowCount(static_cast<int>(runs_.size()));
  QVector<double> bits, ppl;
  QStringList labels, configs;
  QVector<double> bytes;
  for (int row = 0; row < static_cast<int>(runs_.size()); ++row) {
    const RunRecord& r = runs_[static_cast<size_t>(row)];
    const auto& m = r.metrics;
    auto num = [&](int col, double v, int prec) {
      auto* item = new QTableWidgetItem;
      item->setData(Qt::DisplayRole, std::isnan(v) ? QVariant(QStringLiteral("-")) : QVariant(QString::number(v, 'f', prec).toDouble()));
      table_->setItem(row, col, item);
    };
    num(0, static_cast<double>(r.id), 0);
    table_->setItem(row, 1, new QTableWidgetItem(QString::fromStdString(r.config)));
    num(2, json_number(m, "ppl"), 4);
    num(3, json_number(m, "delta_ppl"), 4);
    num(4, json_number(m, "bits_k"), 3);
    num(5, json_number(m, "bits_v"), 3);
    num(6, json_number(m, "kv_bytes_per_token"), 1);
    num(7, json_number(m, "tokens"), 0);
    const double b = 0.5 * (json_number(m, "bits_k") + json_number(m, "bits_v"));
    if (std::isfinite(b) && std::isfinite(json_number(m, "ppl"))) {
      bits << b;
      ppl << json_number(m, "ppl");
      labels << QString::fromStdString(r.config);
    }
    if (!configs.contains(QString::fromStdString(r.config))) {
      configs << QString::fromStdString(r.config);
      bytes << json_number(m, "kv_bytes_per_token");
    }
  }
  table_->setSortingEnabled(true);
  table_->resizeColumnsToContents();

  pplPlot_->clearCurves();
  pplPlot_->addCurve(tr("ppl runs"), bits, ppl, QColor(31, 119, 180), true, labels);
  pplPlot_->rescale();
  QStringList shortNames;
  for (int i = 0; i < configs.size(); ++i) shortNames << QString::number(i + 1);
  bytesPlot_->setBars(configs.size() <= 6 ? configs : shortNames, {tr("bytes/token")}, {bytes});

  memoryPlot_->clearCurves();
  if (model) {
    const int64_t maxLen = std::max<int64_t>(512, model->config.value("max_position_embeddings", 512) * 8);
    std::vector<int64_t> lengths;
    for (int64_t n = 64; n <= maxLen; n *= 2) lengths.push_back(n);
    QVector<double> x(lengths.begin(), lengths.end());
    QStringList drawn{QStringLiteral("fp16")};
    auto draw = [&](const QString& config, int index) {
      try {
        const auto b = kv_cache_bytes(model->config, config.toStdString(), lengths);
        QVector<double> mib;
        for (double v : b) mib << v / (1024.0 * 1024.0);
        memoryPlot_->addCurve(config, x, mib, gui::cluster_colour(index));
      } catch (const std::exception&) {
      }
    };
    draw(QStringLiteral("fp16"), 0);
    for (const QString& c : configs)
      if (!drawn.contains(c) && drawn.size() < 6) {
        drawn << c;
        draw(c, static_cast<int>(drawn.size()) - 1);
      }
  }
  memoryPlot_->rescale();
}

bool ComparisonView::evaluate() {
  const qint64 modelId = model_->currentData().toLongLong();
  const ModelRecord* model = nullptr;
  for (const ModelRecord& m : models_)
    if (m.id == modelId) model = &m;
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
  req.config = config_->text().trimmed().toStdString();
  req.calibration_path = calibration_->currentData().toString().toStdString();
  req.ctx_len = ctxLen_->value();
  req.max_chunks = chunks_->value();
  const std::string db = store_->path();
  const bool ok = runner_->start(tr("PPL %1").arg(config_->text()), [req, db](ProgressFn p, CancelFlag c) {
    return QVariant(qlonglong(run_perplexity(req, db, p, c)));
  });
  if (!ok) {
    Q_EMIT errorOccurred(tr("Evaluate"), tr("Another job is running; wait for it or cancel it."));
    return false;
  }
  evaluate_->setEnabled(false);
  auto* ctx = new QObject(this);
  connect(runner_, &JobRunner::finished, ctx, [this, ctx](const QString&, const QVariant& result) {
    refresh();
    Q_EMIT runAdded(result.toLongLong());
  });
  connect(runner_, &JobRunner::failed, ctx, [this, req](const QString&, const QString& message) {
    Q_EMIT errorOccurred(tr("Evaluation of %1 failed").arg(QString::fromStdString(req.config)), message);
  });
  connect(runner_, &JobRunner::idle, ctx, [this, ctx] {
    evaluate_->setEnabled(true);
    ctx->deleteLater();
  });
  return true;
}

}  // namespace skvq::studio
