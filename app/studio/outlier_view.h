#pragma once
// Outlier view: a layer x channel overview of every layer (absmax or range, K or V, original
// or reordered order with the group boundaries) and the mean quantization error per layer,
// beside one layer's channel ranges (coloured by cluster, with a legend) and its per-group
// quantization error before/after reorder and clip; from an "analyze" run's items or from a
// calibration file.
#include <QWidget>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

class QComboBox;
class QLabel;

namespace skvq {
class RunStore;
struct Calibration;
}
namespace skvq::gui {
class ChannelMapPlot;
class ChannelRangePlot;
class CurvePlot;
class GroupedBarPlot;
}

namespace skvq::studio {

class OutlierView : public QWidget {
  Q_OBJECT
 public:
  explicit OutlierView(QWidget* parent = nullptr);
  void setStore(RunStore* store);
  /// Reloads the list of analyze runs.
  void refresh();
  /// Shows an analyze run.
  void showRun(qint64 runId);
  /// Shows a calibration (no error bars: those need an analyze run).
  void showCalibration(std::shared_ptr<const Calibration> calib, const QString& name);
  gui::ChannelRangePlot* channelPlot() const { return channels_; }
  gui::GroupedBarPlot* errorPlot() const { return errors_; }
  /// All layers at once: rows layers, columns channel positions.
  gui::ChannelMapPlot* overviewMap() const { return overview_; }
  /// Mean per-group MSE per layer: curves K plain, K reorder, K reorder+clip, then V's.
  gui::CurvePlot* layerErrorPlot() const { return layerErrors_; }


 Q_SIGNALS:
  /// A store read failed (corrupt store): title and message for the main window.
  void errorOccurred(const QString& title, const QString& message);

 private:
  void redraw();
  void redrawOverview();
  void redrawLayerErrors();
  nlohmann::json channelsItem(int layer) const;
  QString sourceLabel() const;
  RunStore* store_ = nullptr;
  std::map<std::string, nlohmann::json> items_;
  std::shared_ptr<const Calibration> calib_;
  int numLayers_ = 0;
  qint64 runId_ = 0;
  QComboBox* source_;
  QComboBox* layer_;
  QComboBox* tensor_;
  QComboBox* order_;
  QComboBox* groupSize_;
  QComboBox* stat_;
  QLabel* info_;
  gui::ChannelRangePlot* channels_;
  gui::GroupedBarPlot* errors_;
  gui::ChannelMapPlot* overview_;
  gui::CurvePlot* layerErrors_;
};

}  // namespace skvq::studio
