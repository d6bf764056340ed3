#pragma once
// Attention-locality view ("analyze" items locality/layer<l>): attention mass by query-key
// distance per head (heatmap with a labelled colour bar, per-layer or fixed across layers), and
// sink-mass / in-window-mass curves with sink and window controls; the S and W axes are ticked
// at the measured sinks and windows, the selected ones marked, legends beside the axes.
#include <QWidget>
#include <map>
#include <QVector>
#include <nlohmann/json.hpp>
#include <string>

class QCheckBox;
class QComboBox;
class QLabel;

namespace skvq {
class RunStore;
}
namespace skvq::gui {
class HeatmapWidget;
class CurvePlot;
}

namespace skvq::studio {

class LocalityView : public QWidget {
  Q_OBJECT
 public:
  explicit LocalityView(QWidget* parent = nullptr);
  void setStore(RunStore* store);
  void refresh();
  void showRun(qint64 runId);
  gui::HeatmapWidget* heatmap() const { return heatmap_; }
  gui::CurvePlot* sinkPlot() const { return sinkPlot_; }
  gui::CurvePlot* windowPlot() const { return windowPlot_; }
  /// Mean over heads of the sink mass at S / window mass at W for the selected layer (NaN if
  /// not stored).
  double selectedSinkMass() const;
  double selectedWindowMass() const;
  /// Tick positions of the W axis (the measured windows) and of the S axis (measured sinks).
  const QVector<double>& windowMarkers() const { return windowTicks_; }
  const QVector<double>& sinkMarkers() const { return sinkTicks_; }
  /// x of the dashed line marking the selected W (NaN when none).
  double selectedWindowMarker() const { return windowLine_; }


 Q_SIGNALS:
  /// A store read failed (corrupt store): title and message for the main window.
  void errorOccurred(const QString& title, const QString& message);

 private:
  void redraw();
  void drawHeatmap(int layer, const nlohmann::json& item);
  void markAxis(gui::CurvePlot* plot, const QVector<double>& ticks, double selected);
  const nlohmann::json* layerItem(int layer) const;
  RunStore* store_ = nullptr;
  std::map<int, nlohmann::json> layers_;
  QComboBox* source_;
  QComboBox* layer_;
  QComboBox* sink_;
  QComboBox* window_;
  QCheckBox* fixedScale_;
  qint64 runId_ = 0;
  QVector<double> windowTicks_, sinkTicks_;
  double windowLine_ = 0;
  QLabel* summary_;
  gui::HeatmapWidget* heatmap_;
  gui::CurvePlot* sinkPlot_;
  gui::CurvePlot* windowPlot_;
};

}  // namespace skvq::studio
