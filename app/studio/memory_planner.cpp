#include "memory_planner.h"

#include <QDoubleSpinBox>
#include <QHeaderView>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>

#include "colour_scale.h"
#include "curve_plot.h"
#include "engine_runs.h"

namespace skvq::studio {

namespace {
constexpr double kMiB = 1024.0 * 1024.0;
}

MemoryPlanner::MemoryPlanner(QWidget* parent) : RunForm(nullptr, tr("Memory planner"), parent) {
  setObjectName("memoryPlanner");
  model_ = addLine(tr("Model:"), "model", {}, Browse::File,
                   tr("Models (*.bin *.gguf config.json);;All files (*)"));
  model_->setToolTip(tr("Hugging Face directory, its config.json, a GGUF or a llama2.c .bin file"));
  configs_ = addLine(tr("Configurations:"), "configs", QStringLiteral("fp16, k4-v4-g16-sink4-fp8, k2-v2-g16-sink4-fp8"));
  budget_ = new QDoubleSpinBox(this);
  budget_->setObjectName("budgetGib");
  budget_->setRange(0, 1 << 20);
  budget_->setDecimals(3);
  budget_->setSuffix(tr(" GiB"));
  budget_->setSpecialValueText(tr("none"));
  addField(tr("Budget (weights + cache):"), budget_);
  ctx_ = new QSpinBox(this);
  ctx_->setObjectName("ctx");
  ctx_->setRange(0, 1 << 30);
  ctx_->setValue(4096);
  ctx_->setSpecialValueText(tr("none"));
  addField(tr("Cache size at context:"), ctx_);
  startButton()->setText(tr("Compute"));
  table_ = new QTableWidget(0, ColumnCount, this);
  table_->setObjectName("memoryTable");
  table_->setHorizontalHeaderLabels({tr("Config"), tr("bits K"), tr("bits V"), tr("bytes/token"), tr("codes"),
                                     tr("scale+zero"), tr("sink+window B"), tr("x fp16"), tr("max context"),
                                     tr("cache MiB @ ctx")});
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->verticalHeader()->hide();
  plot_ = new gui::CurvePlot(this);
  plot_->setObjectName("memoryPlot");
  plot_->setLogX(true);
  plot_->setTitles(tr("KV-cache memory vs context length"), tr("context length (tokens)"), tr("MiB"));
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(table_);
  split->addWidget(plot_);
  split->setStretchFactor(1, 2);
  body()->addWidget(split);
  resize(900, 640);
}

bool MemoryPlanner::checkFields() {
  bool ok = checkPath(model_);
  return checkConfigs(configs_, model_->text(), &configList_) && ok;
}

bool MemoryPlanner::launch() {
  if (!validate()) return false;
  const std::string model = model_->text().trimmed().toStdString();
  try {
    report_ = memory_plan(model, configList_,
                          budget_->value() > 0 ? std::optional<double>(budget_->value()) : std::nullopt,
                          ctx_->value() > 0 ? std::optional<int64_t>(ctx_->value()) : std::nullopt);
  } catch (const std::exception& e) {
    setFieldError(model_, QString::fromStdString(e.what()));
    setStatus(tr("Fix the fields marked in red."), true);
    return false;
  }
  fill();
  const double weights = report_["weights_bytes"].get<double>();
  QString budget;
  if (report_.contains("budget_gib"))
    budget = budgetLeftMiB() > 0 ? tr(" Budget: %1 MiB left for the cache.").arg(budgetLeftMiB(), 0, 'f', 2)
                                 : tr(" Budget: the float16 weights alone do not fit.");
  setStatus(tr("%1: %2 parameters, float16 weights %3 MiB, float16 KV cache %4 bytes per token.%5")
                .arg(QString::fromStdString(report_["model"].get<std::string>()))
                .arg(report_["num_parameters"].get<qint64>())
                .arg(weights / kMiB, 0, 'f', 2)
                .arg(report_["fp16_kv_bytes_per_token"].get<qint64>())
                .arg(budget));
  return true;
}

double MemoryPlanner::budgetLeftMiB() const {
  if (!report_.contains("budget_gib")) return 0;
  return (report_["budget_gib"].get<double>() * 1024.0 * kMiB - report_["weights_bytes"].get<double>()) / kMiB;
}

void MemoryPlanner::fill() {
  const auto& rows = report_["configs"];
  table_->setRowCount(static_cast<int>(rows.size()));
  int row = 0;
  for (const auto& r : rows) {
    auto set = [&](int col, const QVariant& v) {
      auto* item = new QTableWidgetItem;
      item->setData(Qt::DisplayRole, v);
      table_->setItem(row, col, item);
    };
    set(Config, QString::fromStdString(r["config"].get<std::string>()));
    set(BitsK, r["bits_k"].get<double>());
    set(BitsV, r["bits_v"].get<double>());
    set(BytesPerToken, r["kv_bytes_per_token"].get<double>());
    set(Codes, r["codes_bytes_per_token"].get<double>());
    set(ScaleZero, r["scale_zero_bytes_per_token"].get<double>());
    set(SinkWindow, r["sink_window_bytes"].get<double>());
    set(Compression, QString::number(r["compression"].get<double>(), 'f', 2).toDouble());
    set(MaxContext, r.contains("max_context_tokens") ? QVariant(r["max_context_tokens"].get<qlonglong>()) : QVariant(QStringLiteral("-")));
    set(CacheAtCtx, r.contains("cache_bytes_at_ctx") ? QVariant(r["cache_bytes_at_ctx"].get<double>() / kMiB) : QVariant(QStringLiteral("-")));
    ++row;
  }
  table_->resizeColumnsToContents();

  // Cache size from 64 tokens up to twice the larger of the context asked for and 4096.
  const int64_t top = std::max<int64_t>(4096, 2 * static_cast<int64_t>(ctx_->value()));
  std::vector<int64_t> lengths;
  for (int64_t n = 64; n <= top; n *= 2) lengths.push_back(n);
  const QVector<double> x(lengths.begin(), lengths.end());
  plot_->clearCurves();
  const std::string model = model_->text().trimmed().toStdString();
  for (size_t i = 0; i < configList_.size(); ++i) {
    QVector<double> mib;
    for (double b : memory_curve(model, configList_[i], lengths)) mib << b / kMiB;
    plot_->addCurve(QString::fromStdString(rows[i]["config"].get<std::string>()), x, mib,
                    gui::cluster_colour(static_cast<int>(i)));
  }
  if (budgetLeftMiB() > 0)
    plot_->addCurve(tr("budget left for the cache"), {x.front(), x.back()}, {budgetLeftMiB(), budgetLeftMiB()},
                    QColor(120, 120, 120));
  plot_->rescale();
}

}  // namespace skvq::studio
