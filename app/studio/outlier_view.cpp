#include "view_state.h"
#include "outlier_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include "channel_map_plot.h"
#include "channel_range_plot.h"
#include "colour_scale.h"
#include "curve_plot.h"
#include "engine.h"
#include "grouped_bar_plot.h"
#include "json_util.h"
#include "legend_layout.h"
#include "outlier_overview.h"
#include "skvq/run_store.h"

namespace skvq::studio {

namespace {
QComboBox* combo(const QString& name, QWidget* parent) {
  auto* c = new QComboBox(parent);
  c->setObjectName(name);
  c->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  return c;
}
}  // namespace

OutlierView::OutlierView(QWidget* parent) : QWidget(parent) {
  source_ = combo("source", this);
  layer_ = combo("layer", this);
  tensor_ = combo("tensor", this);
  tensor_->addItems({tr("K (keys, pre-RoPE)"), tr("V (values)")});
  order_ = combo("order", this);
  order_->addItems({tr("original order"), tr("reordered (clusters)")});
  order_->setCurrentIndex(1);
  groupSize_ = combo("groupSize", this);
  stat_ = combo("overviewStat", this);
  stat_->addItem(tr("absmax"), int(ChannelStat::absmax));
  stat_->addItem(tr("range (max - min)"), int(ChannelStat::range));
  info_ = new QLabel(this);
  info_->setObjectName("info");
  channels_ = new gui::ChannelRangePlot(this);
  channels_->setObjectName("channelPlot");
  errors_ = new gui::GroupedBarPlot(this);
  errors_->setObjectName("errorPlot");
  errors_->setTitles(tr("Per-group quantization error (MSE)"), tr("group"), tr("MSE"));
  gui::move_legend_outside(errors_);  // over the bars of the last group otherwise
  overview_ = new gui::ChannelMapPlot(this);
  overview_->setObjectName("overviewMap");
  layerErrors_ = new gui::CurvePlot(this);
  layerErrors_->setObjectName("layerErrorPlot");
  layerErrors_->legend->setVisible(true);
  layerErrors_->setTitles(tr("Mean per-group quantization error per layer"), tr("layer"), tr("MSE"));
  layerErrors_->setLogY(true);
  layerErrors_->setLegendOutside(true);
  gui::stack_legend_at_top(layerErrors_);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("Source:"), this));
  controls->addWidget(source_, 1);
  for (auto [label, w] : {std::pair{tr("Layer:"), layer_}, {tr("Tensor:"), tensor_},
                          {tr("Order:"), order_}, {tr("Group size:"), groupSize_},
                          {tr("Overview:"), stat_}}) {
    controls->addWidget(new QLabel(label, this));
    controls->addWidget(w);
  }
  auto* all = new QSplitter(Qt::Vertical, this);
  all->addWidget(overview_);
  all->addWidget(layerErrors_);
  auto* one = new QSplitter(Qt::Vertical, this);
  one->addWidget(channels_);
  one->addWidget(errors_);
  for (QSplitter* s : {all, one}) {
    s->setStretchFactor(0, 3);
    s->setStretchFactor(1, 2);
    s->setSizes({3000, 2000});
  }
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(all);
  split->addWidget(one);
  split->setSizes({1000, 1000});
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(info_);
  layout->addWidget(split, 1);

  connect(source_, &QComboBox::activated, this, [this](int i) {
    const qint64 id = source_->itemData(i).toLongLong();
    if (id > 0) showRun(id);
  });
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { redraw(); });
  for (QComboBox* c : {tensor_, order_, groupSize_, stat_})
    connect(c, &QComboBox::currentIndexChanged, this, [this] {
      redrawOverview();
      redraw();
    });
  connect(overview_, &gui::ChannelMapPlot::rowClicked, layer_, &QComboBox::setCurrentIndex);
  remember_choices(this, QStringLiteral("outliers"), {"tensor", "order", "overviewStat"});
}

void OutlierView::setStore(RunStore* store) {
  store_ = store;
  refresh();
}

void OutlierView::refresh() {
  const QVariant current = source_->currentData();
  QSignalBlocker block(source_);
  source_->clear();
  if (!store_) return;
  RunFilter f;
  f.kind = "analyze";
  for (const RunRecord& r : store_->list_runs(f))
    source_->addItem(tr("run %1: %2").arg(r.id).arg(QString::fromStdString(r.config)), qlonglong(r.id));
  const int i = source_->findData(current);
  if (i >= 0) source_->setCurrentIndex(i);
  else if (source_->count() > 0 && items_.empty() && !calib_) showRun(source_->itemData(0).toLongLong());
}

void OutlierView::showRun(qint64 runId) {
  if (!store_) return;
  calib_.reset();
  items_.clear();
  numLayers_ = 0;
  runId_ = runId;
  try {
    for (const RunItem& it : store_->items(runId)) {
      items_[it.key] = it.data;
      if (it.key.rfind("channels/layer", 0) == 0) ++numLayers_;
    }
  } catch (const std::exception& e) {
    items_.clear();
    numLayers_ = 0;
    Q_EMIT errorOccurred(tr("Run store"), QString::fromStdString(e.what()));
  }
  const int i = source_->findData(qlonglong(runId));
  if (i >= 0) source_->setCurrentIndex(i);
  QSignalBlocker b1(layer_), b2(groupSize_);
  layer_->clear();
  for (int l = 0; l < numLayers_; ++l) layer_->addItem(QString::number(l));
  groupSize_->clear();
  const auto it = items_.find("channels/layer0");
  if (it != items_.end()) groupSize_->addItem(QString::number(it->second.value("group_size", 0)));
  groupSize_->setEnabled(false);
  redrawOverview();
  redrawLayerErrors();
  redraw();
}

void OutlierView::showCalibration(std::shared_ptr<const Calibration> calib, const QString& name) {
  items_.clear();
  runId_ = 0;
  calib_ = std::move(calib);
  numLayers_ = static_cast<int>(calibration_layers(*calib_));
  {
    QSignalBlocker b0(source_), b1(layer_), b2(groupSize_);
    source_->addItem(tr("calibration: %1").arg(name), qlonglong(0));
    source_->setCurrentIndex(source_->count() - 1);
    layer_->clear();
    for (int l = 0; l < numLayers_; ++l) layer_->addItem(QString::number(l));
    groupSize_->clear();
    for (int64_t g : calibration_group_sizes(*calib_)) groupSize_->addItem(QString::number(g));
    groupSize_->setEnabled(true);
  }
  redrawOverview();
  redrawLayerErrors();
  redraw();
}

QString OutlierView::sourceLabel() const {
  return runId_ > 0 ? tr("run %1").arg(runId_) : source_->currentText();
}

void OutlierView::redrawOverview() {
  std::vector<nlohmann::json> layers;
  for (int l = 0; l < numLayers_; ++l) layers.push_back(channelsItem(l));
  const bool k = tensor_->currentIndex() == 0, reordered = order_->currentIndex() == 1;
  const auto stat = static_cast<ChannelStat>(stat_->currentData().toInt());
  const ChannelOverview o = channel_overview(layers, k ? "k" : "v", stat, reordered);
  const QString what = stat == ChannelStat::absmax ? tr("absmax") : tr("range (max - min)");
  overview_->setMap(o.values, o.channels,
                    tr("All layers: per-channel %1 of %2, %3").arg(what, k ? tr("K") : tr("V"),
                                                                   reordered ? tr("reordered, group boundaries") : tr("original order")),
                    tr("%1 of %2").arg(what, k ? tr("K") : tr("V")), sourceLabel());
  overview_->xAxis->setLabel(reordered ? tr("channel position (reordered)") : tr("channel"));
  overview_->setBoundaries(o.boundaries);
}

void OutlierView::redrawLayerErrors() {
  layerErrors_->clearCurves();
  std::vector<nlohmann::json> errors;
  QString config;
  for (int l = 0; l < numLayers_; ++l) {
    const auto it = items_.find("group_error/layer" + std::to_string(l));
    errors.push_back(it == items_.end() ? nlohmann::json() : it->second);
    if (it != items_.end()) config = json_string(it->second, "config");
  }
  if (config.isEmpty()) {
    layerErrors_->setTitles(tr("Quantization error per layer: needs an analyze run"), tr("layer"), tr("MSE"));
    layerErrors_->legend->setVisible(false);
    layerErrors_->rescale();
    return;
  }
  const QStringList variants{tr("plain"), tr("reorder"), tr("reorder + clip")};
  for (const char* t : {"k", "v"}) {
    const LayerErrorSeries e = layer_error_means(errors, t);
    for (int s = 0; s < 3; ++s) {
      gui::CurveStyle style;
      style.shape = t[0] == 'k' ? QCPScatterStyle::ssCircle : QCPScatterStyle::ssSquare;
      style.dashed = t[0] == 'v';
      style.ids = QVector<qint64>(e.layer.size(), runId_);
      style.tips = QStringList(e.layer.size(), config);
      layerErrors_->addCurve(QStringLiteral("%1 %2").arg(QString(t).toUpper(), variants[s]), e.layer,
                             e.series[s], gui::cluster_colour(s), style);
    }
  }
  layerErrors_->setTitles(tr("Quantization error per layer (mean over groups)\n%1").arg(config),
                          tr("layer"), tr("MSE"));
  layerErrors_->rescale();
}

nlohmann::json OutlierView::channelsItem(int layer) const {
  if (calib_) return calibration_channels_item(*calib_, layer, groupSize_->currentText().toLongLong());
  const auto it = items_.find("channels/layer" + std::to_string(layer));
  return it == items_.end() ? nlohmann::json() : it->second;
}

void OutlierView::redraw() {
  const int layer = layer_->currentIndex();
  if (layer < 0) {
    channels_->setChannels({}, false);
    errors_->setBars({}, {}, {});
    info_->setText(tr("No analyze run or calibration: run `skvq analyze` or the calibration wizard."));
    return;
  }
  const char* t = tensor_->currentIndex() == 0 ? "k" : "v";
  const nlohmann::json item = channelsItem(layer);
  const nlohmann::json& tj = item.contains(t) ? item[t] : nlohmann::json::object();
  gui::ChannelRanges r;
  r.min = json_doubles(tj, "min");
  r.max = json_doubles(tj, "max");
  r.absmax = json_doubles(tj, "absmax");
  r.labels = json_ints(tj, "labels");
  r.perm = json_ints(tj, "perm");
  r.offsets = json_ints(tj, "offsets");
  r.group_size = item.value("group_size", 0);
  const bool reordered = order_->currentIndex() == 1;
  channels_->setChannels(r, reordered,
                         tr("Layer %1 %2 per channel: min..max (bars), absmax (+)\n%3")
                             .arg(layer).arg(QString(t).toUpper(), sourceLabel()));
  double widest = 0;
  int widestChannel = -1;
  for (int c = 0; c < r.max.size(); ++c) {
    if (r.absmax.size() == r.max.size() && r.absmax[c] > widest) {
      widest = r.absmax[c];
      widestChannel = c;
    }
  }
  info_->setText(tr("%1 channels, %2 groups; largest |value| %3 in channel %4")
                     .arg(r.min.size()).arg(channels_->boundaries().size() + (r.min.isEmpty() ? 0 : 1))
                     .arg(widest, 0, 'g', 4).arg(widestChannel));

  const auto err = items_.find("group_error/layer" + std::to_string(layer));
  if (err == items_.end() || !err->second.contains(t)) {
    errors_->setBars({}, {}, {});
    errors_->legend->setVisible(false);
    errors_->setTitles(tr("Per-group quantization error: needs an analyze run"), tr("group"), tr("MSE"));
    errors_->replot();
    return;
  }
  const nlohmann::json& e = err->second[t];
  QVector<QVector<double>> series{json_doubles(e, "plain"), json_doubles(e, "reorder"),
                                  json_doubles(e, "reorder_clip")};
  QStringList groups;
  for (int g = 0; g < series[0].size(); ++g) groups << QString::number(g);
  errors_->setTitles(tr("Layer %1 %2: quantization error per group\nrun %3: %4")
                         .arg(layer).arg(QString(t).toUpper()).arg(runId_)
                         .arg(json_string(err->second, "config")), tr("group"), tr("MSE"));
  errors_->legend->setVisible(true);
  errors_->setBars(groups, {tr("plain"), tr("reorder"), tr("reorder + clip")}, series);
}

}  // namespace skvq::studio
