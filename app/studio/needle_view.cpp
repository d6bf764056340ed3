#include "view_state.h"
#include "needle_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>
#include <cmath>
#include <set>

#include "colour_scale.h"
#include "curve_plot.h"
#include "heatmap_widget.h"
#include "json_util.h"
#include "legend_layout.h"
#include "skvq/run_store.h"

namespace skvq::studio {

namespace {
struct Grid {
  std::vector<double> lengths, depths;  // sorted
};
Grid gridOf(const std::map<std::string, nlohmann::json>& a, const std::map<std::string, nlohmann::json>& b) {
  std::set<double> lengths, depths;
  for (const auto* m : {&a, &b})
    for (const auto& [key, j] : *m) {
      lengths.insert(json_number(j, "context_length"));
      depths.insert(json_number(j, "depth_percent"));
    }
  return {{lengths.begin(), lengths.end()}, {depths.begin(), depths.end()}};
}
QString cellKey(double length, double depth) {
  return QStringLiteral("L%1_D%2").arg(static_cast<qint64>(length)).arg(depth, 0, 'f', 1);
}
}  // namespace

NeedleView::NeedleView(QWidget* parent) : QWidget(parent) {
  runA_ = new QComboBox(this);
  runA_->setObjectName("runA");
  runB_ = new QComboBox(this);
  runB_->setObjectName("runB");
  metric_ = new QComboBox(this);
  metric_->setObjectName("metric");
  metric_->addItem(tr("ROUGE-L F1"), "rougeL_f");
  metric_->addItem(tr("ROUGE-1 F1"), "rouge1_f");
  metric_->addItem(tr("contains answer"), "contains");
  metric_->addItem(tr("agreement with fp (ROUGE-L)"), "agreement_rougeL");
  a_ = new gui::HeatmapWidget(this);
  a_->setObjectName("heatmapA");
  b_ = new gui::HeatmapWidget(this);
  b_->setObjectName("heatmapB");
  diff_ = new gui::HeatmapWidget(this);
  diff_->setObjectName("heatmapDiff");
  diff_->setDiverging(true);
  swap_ = new QPushButton(tr("Swap A/B"), this);
  swap_->setObjectName("swapAB");
  swap_->setToolTip(tr("Show run B as A and run A as B"));
  length_ = new gui::CurvePlot(this);
  length_->setObjectName("lengthPlot");
  length_->setLegendOutside(true);
  gui::stack_legend_at_top(length_);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Run A:"), this));
  controls->addWidget(runA_, 1);
  controls->addWidget(new QLabel(tr("Run B:"), this));
  controls->addWidget(runB_, 1);
  controls->addWidget(swap_);
  controls->addWidget(new QLabel(tr("Metric:"), this));
  controls->addWidget(metric_);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(a_);
  split->addWidget(b_);
  split->addWidget(diff_);
  auto* vertical = new QSplitter(Qt::Vertical, this);
  vertical->addWidget(split);
  vertical->addWidget(length_);
  vertical->setStretchFactor(0, 3);
  vertical->setStretchFactor(1, 2);
  vertical->setSizes({3000, 2000});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(vertical, 1);

  connect(runA_, &QComboBox::activated, this, [this] {
    showRuns(runA_->currentData().toLongLong(), runB_->currentData().toLongLong());
  });
  connect(runB_, &QComboBox::activated, this, [this] {
    showRuns(runA_->currentData().toLongLong(), runB_->currentData().toLongLong());
  });
  connect(metric_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
  connect(swap_, &QPushButton::clicked, this, &NeedleView::swapRuns);
  remember_choices(this, QStringLiteral("needle"), {"metric"});
}

void NeedleView::swapRuns() {
  const qint64 a = runA_->currentData().toLongLong(), b = runB_->currentData().toLongLong();
  if (b > 0) showRuns(b, a);
}

void NeedleView::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

void NeedleView::refresh() {
  const QVariant a = runA_->currentData(), b = runB_->currentData();
  QSignalBlocker ba(runA_), bb(runB_);
  runA_->clear();
  runB_->clear();
  runB_->addItem(tr("(none)"), qlonglong(0));
  if (!store_) return;
  RunFilter f;
  f.kind = "needle";
  for (const RunRecord& r : store_->list_runs(f)) {
    const QString label = tr("run %1: %2 (%3)").arg(r.id).arg(QString::fromStdString(r.config),
                                                              QString::fromStdString(r.status));
    runA_->addItem(label, qlonglong(r.id));
    runB_->addItem(label, qlonglong(r.id));
  }
  if (runA_->findData(a) >= 0) runA_->setCurrentIndex(runA_->findData(a));
  if (runB_->findData(b) >= 0) runB_->setCurrentIndex(runB_->findData(b));
  if (itemsA_.empty() && runA_->count() > 0)
    showRuns(runA_->itemData(0).toLongLong(), runA_->count() > 1 ? runA_->itemData(1).toLongLong() : 0);
}

std::map<std::string, nlohmann::json> NeedleView::load(qint64 runId) {
  std::map<std::string, nlohmann::json> out;
  try {
    if (store_ && runId > 0)
      for (const RunItem& it : store_->items(runId)) out[it.key] = it.data;
  } catch (const std::exception& e) {
    out.clear();
    Q_EMIT errorOccurred(tr("Run store"), QString::fromStdString(e.what()));
  }
  return out;
}

void NeedleView::showRuns(qint64 aId, qint64 bId) {
  itemsA_ = load(aId);
  itemsB_ = load(bId);
  QSignalBlocker ba(runA_), bb(runB_);
  if (runA_->findData(qlonglong(aId)) >= 0) runA_->setCurrentIndex(runA_->findData(qlonglong(aId)));
  runB_->setCurrentIndex(std::max(0, runB_->findData(qlonglong(bId))));
  redraw();
}

void NeedleView::fill(gui::HeatmapWidget* map, const std::map<std::string, nlohmann::json>& items,
                      const QString& title, qint64 runId) {
  const Grid g = gridOf(itemsA_, itemsB_);
  const std::string metric = metric_->currentData().toString().toStdString();
  QStringList rows, cols, tips;
  QVector<double> values;
  for (double d : g.depths) rows << QStringLiteral("%1%").arg(d);
  for (double l : g.lengths) cols << QString::number(l);
  for (double d : g.depths) {
    for (double l : g.lengths) {
      const auto it = items.find(cellKey(l, d).toStdString());
      if (it == items.end()) {
        values << std::nan("");
        tips << QString();
      } else {
        values << json_number(it->second, metric.c_str());
        tips << tr("answer: %1\nrun %2").arg(json_string(it->second, "response").left(300)).arg(runId);
      }
    }
  }
  map->setGrid(rows, cols, values, tips);
  map->setRange(0, 1);
  map->setColourBarLabel(metric_->currentText());
  map->setTitles(QStringLiteral("%1: %2").arg(title, metric_->currentText()), tr("context length (tokens)"),
                 tr("needle depth"));
}

void NeedleView::drawLengthPlot() {
  length_->clearCurves();
  const QString metric = metric_->currentText();
  const struct {
    gui::HeatmapWidget* map;
    QComboBox* box;
    QColor colour;
  } runs[] = {{a_, runA_, gui::cluster_colour(0)}, {b_, runB_, gui::cluster_colour(1)}};
  for (const auto& run : runs) {
    const qint64 id = run.box->currentData().toLongLong();
    if (id <= 0 || (run.map == b_ && itemsB_.empty())) continue;
    QVector<double> x, y;
    for (int c = 0; c < run.map->cols(); ++c) {
      double sum = 0;
      int n = 0;
      for (int r = 0; r < run.map->rows(); ++r)
        if (std::isfinite(run.map->value(r, c))) {
          sum += run.map->value(r, c);
          ++n;
        }
      if (n == 0) continue;
      x << run.map->colLabels()[c].toDouble();
      y << sum / n;
    }
    gui::CurveStyle style;
    style.ids = QVector<qint64>(x.size(), id);
    style.tips = QStringList(x.size(), tr("mean over depths"));
    length_->addCurve(QStringLiteral("%1: %2").arg(run.map == a_ ? tr("A") : tr("B"), run.box->currentText()),
                      x, y, run.colour, style);
  }
  length_->setTitles(tr("%1 vs context length (mean over depths)").arg(metric), tr("context length (tokens)"),
                     metric);
  length_->rescale();
}

void NeedleView::redraw() {
  fill(a_, itemsA_, tr("A: %1").arg(runA_->currentText()), runA_->currentData().toLongLong());
  fill(b_, itemsB_, runB_->currentData().toLongLong() > 0 ? tr("B: %1").arg(runB_->currentText()) : tr("run B: none"),
       runB_->currentData().toLongLong());
  b_->setVisible(!itemsB_.empty());
  diff_->setVisible(!itemsB_.empty());
  // Difference B - A per cell.
  QVector<double> d;
  QStringList tips;
  for (int r = 0; r < a_->rows(); ++r)
    for (int c = 0; c < a_->cols(); ++c) {
      d << b_->value(r, c) - a_->value(r, c);
      tips << tr("A: %1\nB: %2").arg(a_->cellToolTip(r, c).section('\n', 2),
                                     b_->cellToolTip(r, c).section('\n', 2));
    }
  diff_->setGrid(a_->rowLabels(), a_->colLabels(), d, tips);
  diff_->setRange(-1, 1);
  diff_->setColourBarLabel(tr("B - A, %1").arg(metric_->currentText()));
  diff_->setTitles(tr("B - A: %1").arg(metric_->currentText()), tr("context length (tokens)"), tr("needle depth"));
  drawLengthPlot();
}

}  // namespace skvq::studio
