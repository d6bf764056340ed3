#pragma once
// Needle-in-a-haystack viewer: the depth x context-length grid of a "needle" run coloured by
// a selectable metric (named on the titles and colour bars), hover shows the answer; a second
// run side by side, their difference, a swap A/B button and the score vs context length (mean
// over depths) of both runs.
#include <QWidget>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

class QComboBox;
class QPushButton;

namespace skvq {
class RunStore;
}
namespace skvq::gui {
class HeatmapWidget;
class CurvePlot;
}

namespace skvq::studio {

class NeedleView : public QWidget {
  Q_OBJECT
 public:
  explicit NeedleView(QWidget* parent = nullptr);
  void setStore(RunStore* store);
  void refresh();
  /// Shows run A (and B when bId > 0).
  void showRuns(qint64 aId, qint64 bId = 0);
  gui::HeatmapWidget* heatmapA() const { return a_; }
  gui::HeatmapWidget* heatmapB() const { return b_; }
  gui::HeatmapWidget* heatmapDiff() const { return diff_; }
  /// Score vs context length: curve 0 run A, curve 1 run B (when shown); y is the mean over
  /// the depths stored at that length.
  gui::CurvePlot* lengthPlot() const { return length_; }
  /// Shows B as A and A as B.
  void swapRuns();


 Q_SIGNALS:
  /// A store read failed (corrupt store): title and message for the main window.
  void errorOccurred(const QString& title, const QString& message);

 private:
  void redraw();
  void fill(gui::HeatmapWidget* map, const std::map<std::string, nlohmann::json>& items,
            const QString& title, qint64 runId);
  void drawLengthPlot();
  std::map<std::string, nlohmann::json> load(qint64 runId);
  RunStore* store_ = nullptr;
  std::map<std::string, nlohmann::json> itemsA_, itemsB_;
  QComboBox* runA_;
  QComboBox* runB_;
  QComboBox* metric_;
  QPushButton* swap_;
  gui::CurvePlot* length_;
  gui::HeatmapWidget* a_;
  gui::HeatmapWidget* b_;
  gui::HeatmapWidget* diff_;
};

}  // namespace skvq::studio
