#include "view_state.h"
#include "locality_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>
#include <algorithm>
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
double mean(const QVector<double>& v) {
  if (v.isEmpty()) return std::nan("");
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}
/// Sorted numeric keys of an object like {"4": [...], "16": [...]}.
QVector<int> numericKeys(const nlohmann::json& obj) {
  std::set<int> keys;
  if (obj.is_object())
    for (auto it = obj.begin(); it != obj.end(); ++it) keys.insert(std::stoi(it.key()));
  return QVector<int>(keys.begin(), keys.end());
}
}  // namespace

LocalityView::LocalityView(QWidget* parent) : QWidget(parent) {
  source_ = new QComboBox(this);
  source_->setObjectName("source");
  layer_ = new QComboBox(this);
  layer_->setObjectName("layer");
  sink_ = new QComboBox(this);
  sink_->setObjectName("sink");
  window_ = new QComboBox(this);
  window_->setObjectName("window");
  fixedScale_ = new QCheckBox(tr("Same colour scale for all layers"), this);
  fixedScale_->setObjectName("fixedScale");
  summary_ = new QLabel(this);
  summary_->setObjectName("summary");
  heatmap_ = new gui::HeatmapWidget(this);
  heatmap_->setObjectName("massHeatmap");
  heatmap_->setColourBarLabel(tr("attention mass"));
  sinkPlot_ = new gui::CurvePlot(this);
  sinkPlot_->setObjectName("sinkPlot");
  sinkPlot_->setTitles(tr("Attention mass on the first S tokens"), tr("sink S (tokens)"), tr("mass"));
  windowPlot_ = new gui::CurvePlot(this);
  windowPlot_->setObjectName("windowPlot");
  windowPlot_->setTitles(tr("Attention mass within the last W tokens"), tr("window W (tokens)"), tr("mass"));
  windowPlot_->setLogX(true);
  sinkPlot_->setLegendOutside(true);
  windowPlot_->setLegendOutside(true);
  gui::stack_legend_at_top(sinkPlot_);
  gui::stack_legend_at_top(windowPlot_);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Run:"), this));
  controls->addWidget(source_, 1);
  controls->addWidget(new QLabel(tr("Layer:"), this));
  controls->addWidget(layer_);
  controls->addWidget(new QLabel(tr("Sink S:"), this));
  controls->addWidget(sink_);
  controls->addWidget(new QLabel(tr("Window W:"), this));
  controls->addWidget(window_);
  controls->addWidget(fixedScale_);
  auto* curves = new QSplitter(Qt::Horizontal, this);
  curves->addWidget(sinkPlot_);
  curves->addWidget(windowPlot_);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(heatmap_);
  split->addWidget(curves);
  split->setSizes({1000, 1000});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(summary_);
  layout->addWidget(split, 1);

  connect(source_, &QComboBox::activated, this,
          [this](int i) { showRun(source_->itemData(i).toLongLong()); });
  for (QComboBox* c : {layer_, sink_, window_})
    connect(c, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
  connect(fixedScale_, &QCheckBox::toggled, this, [this] { redraw(); });
  remember_choices(this, QStringLiteral("locality"), {"fixedScale"});
}

void LocalityView::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

void LocalityView::refresh() {
  const QVariant current = source_->currentData();
  QSignalBlocker block(source_);
  source_->clear();
  if (!store_) return;
  RunFilter f;
  f.kind = "analyze";
  for (const RunRecord& r : store_->list_runs(f))
    source_->addItem(tr("run %1: %2 tokens").arg(r.id).arg(r.params.value("tokens", 0)), qlonglong(r.id));
  const int i = source_->findData(current);
  if (i >= 0) source_->setCurrentIndex(i);
  else if (source_->count() > 0 && layers_.empty()) showRun(source_->itemData(0).toLongLong());
}

void LocalityView::showRun(qint64 runId) {
  if (!store_) return;
  layers_.clear();
  runId_ = runId;
  try {
    for (const RunItem& it : store_->items(runId))
      if (it.key.rfind("locality/layer", 0) == 0) layers_[it.data.value("layer", 0)] = it.data;
  } catch (const std::exception& e) {
    layers_.clear();
    Q_EMIT errorOccurred(tr("Run store"), QString::fromStdString(e.what()));
  }
  const int i = source_->findData(qlonglong(runId));
  if (i >= 0) source_->setCurrentIndex(i);
  QSignalBlocker b1(layer_), b2(sink_), b3(window_);
  layer_->clear();
  for (const auto& [l, _] : layers_) layer_->addItem(QString::number(l), l);
  sink_->clear();
  window_->clear();
  if (!layers_.empty()) {
    const auto& first = layers_.begin()->second;
    for (int s : numericKeys(first.value("sink_mass", nlohmann::json::object()))) sink_->addItem(QString::number(s), s);
    for (int w : numericKeys(first.value("window_mass", nlohmann::json::object()))) window_->addItem(QString::number(w), w);
  }
  redraw();
}

const nlohmann::json* LocalityView::layerItem(int layer) const {
  const auto it = layers_.find(layer);
  return it == layers_.end() ? nullptr : &it->second;
}

double LocalityView::selectedSinkMass() const {
  const nlohmann::json* item = layerItem(layer_->currentData().toInt());
  if (!item || sink_->currentIndex() < 0) return std::nan("");
  return mean(json_doubles((*item)["sink_mass"], sink_->currentText().toStdString().c_str()));
}

double LocalityView::selectedWindowMass() const {
  const nlohmann::json* item = layerItem(layer_->currentData().toInt());
  if (!item || window_->currentIndex() < 0) return std::nan("");
  return mean(json_doubles((*item)["window_mass"], window_->currentText().toStdString().c_str()));
}

void LocalityView::markAxis(gui::CurvePlot* plot, const QVector<double>& ticks, double selected) {
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  for (double t : ticks) ticker->addTick(t, QString::number(t));
  plot->xAxis->setTicker(ticker);
  if (std::isfinite(selected)) {
    auto* line = new QCPItemStraightLine(plot);
    line->point1->setCoords(selected, 0);
    line->point2->setCoords(selected, 1);
    line->setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
  }
  plot->replot();
}

void LocalityView::drawHeatmap(int layer, const nlohmann::json& item) {
  // Heads x distance bins.
  const QVector<double> edges = json_doubles(item, "bin_edges");
  const auto& mass = item["mass"];
  QStringList rows, cols, tips;
  QVector<double> values;
  for (int b = 0; b + 1 < edges.size(); ++b)
    cols << QStringLiteral("%1-%2").arg(edges[b]).arg(edges[b + 1] - 1);
  if (cols.isEmpty() && mass.is_array() && !mass.empty())
    for (size_t b = 0; b < mass[0].size(); ++b) cols << QString::number(b);
  for (size_t h = 0; h < mass.size(); ++h) {
    rows << tr("head %1").arg(h);
    for (int b = 0; b < cols.size(); ++b) {
      values.push_back(b < static_cast<int>(mass[h].size()) ? mass[h][b].get<double>() : std::nan(""));
      tips << tr("layer %1, run %2").arg(layer).arg(runId_);
    }
  }
  // Colour range: this layer's maximum, or the maximum over all layers when fixed.
  double high = 0;
  for (const auto& [l, it] : layers_) {
    if (!fixedScale_->isChecked() && l != layer) continue;
    for (const auto& head : it.value("mass", nlohmann::json::array()))
      for (const auto& v : head)
        if (v.is_number() && std::isfinite(v.get<double>())) high = std::max(high, v.get<double>());
  }
  heatmap_->setGrid(rows, cols, values, tips);
  heatmap_->setRange(0, high > 0 ? high : 1);
  heatmap_->setColourBarLabel(fixedScale_->isChecked() ? tr("attention mass (scale of all layers)")
                                                       : tr("attention mass (this layer)"));
  heatmap_->setTitles(tr("Layer %1: attention mass by query-key distance, run %2").arg(layer).arg(runId_),
                      tr("distance (tokens)"), tr("head"));
}

void LocalityView::redraw() {
  sinkPlot_->clearCurves();
  windowPlot_->clearCurves();
  const int layer = layer_->currentData().toInt();
  const nlohmann::json* item = layerItem(layer);
  sinkTicks_.clear();
  windowTicks_.clear();
  windowLine_ = std::nan("");
  if (!item) {
    heatmap_->setGrid({}, {}, {});
    summary_->setText(tr("No analyze run: run `skvq analyze` first."));
    sinkPlot_->replot();
    windowPlot_->replot();
    return;
  }
  drawHeatmap(layer, *item);
  // Curves: every layer, mean over heads; the selected layer drawn thicker via its colour.
  for (const auto& [l, it] : layers_) {
    QVector<double> sx, sy, wx, wy;
    const auto& sinks = it["sink_mass"];
    for (int s : numericKeys(sinks)) {
      sx << s;
      sy << mean(json_doubles(sinks, std::to_string(s).c_str()));
    }
    const auto& windows = it["window_mass"];
    for (int w : numericKeys(windows)) {
      wx << w;
      wy << mean(json_doubles(windows, std::to_string(w).c_str()));
    }
    // Up to 10 layers: a colour and a legend entry each; more (SmolLM2: 30) would not fit
    // beside the axes: the others grey under one entry, the selected one drawn on top.
    const bool many = layers_.size() > 10;
    const QColor colour = l == layer ? QColor(214, 39, 40)
                          : many     ? QColor(175, 175, 175)
                                     : gui::cluster_colour(l).lighter(140);
    gui::CurveStyle style;
    style.inLegend = !many || l == layer;
    const QString name = l == layer ? tr("layer %1 (selected)").arg(l) : tr("layer %1").arg(l);
    style.ids = QVector<qint64>(sx.size(), runId_);
    sinkPlot_->addCurve(name, sx, sy, colour, style);
    style.ids = QVector<qint64>(wx.size(), runId_);
    windowPlot_->addCurve(name, wx, wy, colour, style);
    if (l == layer) {
      sinkTicks_ = sx;
      windowTicks_ = wx;
      for (gui::CurvePlot* p : {sinkPlot_, windowPlot_}) p->graph(p->graphCount() - 1)->setLayer(QStringLiteral("axes"));
    }
  }
  if (layers_.size() > 10)
    for (gui::CurvePlot* p : {sinkPlot_, windowPlot_})
      p->addCurve(tr("other layers (hover for which)"), {}, {}, QColor(175, 175, 175));
  sinkPlot_->rescale();
  windowPlot_->rescale();
  markAxis(sinkPlot_, sinkTicks_, sink_->currentIndex() >= 0 ? sink_->currentData().toDouble() : std::nan(""));
  windowLine_ = window_->currentIndex() >= 0 ? window_->currentData().toDouble() : std::nan("");
  markAxis(windowPlot_, windowTicks_, windowLine_);
  const double s = selectedSinkMass(), w = selectedWindowMass();
  summary_->setText(tr("Layer %1 (mean over heads): sink S=%2 holds %3 of the attention, window "
                       "W=%4 holds %5; quantized region gets at most %6.")
                        .arg(layer).arg(sink_->currentText()).arg(s, 0, 'f', 3)
                        .arg(window_->currentText()).arg(w, 0, 'f', 3)
                        .arg(std::max(0.0, 1.0 - std::max(s, w)), 0, 'f', 3));
}

}  // namespace skvq::studio
