#pragma once
// Attention-locality view ("analyze" items locality/layer<l>): attention mass by query-key
// distance per head (heatmap), and sink-mass / in-window-mass curves with sink and window
// controls.
#include <QWidget>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

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


 Q_SIGNALS:
  /// A store read failed (corrupt store): title and message for the main window.
  void errorOccurred(const QString& title, const QString& message);

 private:
  void redraw();
  const nlohmann::json* layerItem(int layer) const;
  RunStore* store_ = nullptr;
  std::map<int, nlohmann::json> layers_;
  QComboBox* source_;
  QComboBox* layer_;
  QComboBox* sink_;
  QComboBox* window_;
  QLabel* summary_;
  gui::HeatmapWidget* heatmap_;
  gui::CurvePlot* sinkPlot_;
  gui::CurvePlot* windowPlot_;
};

}  // namespace skvq::studio
