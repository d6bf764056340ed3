#pragma once
// Comparison dashboard over the "ppl" runs and peer rows of one model, compared only within
// one measurement setting (text, slice, ctx_len, scored tokens, protocol: comparison_rows.h):
// a table, PPL (or dPPL, or log PPL) vs average stored bits with the Pareto frontier and peers
// marked by system, KV bytes per token per row, KV-cache memory vs context length for every
// configuration, and "add configuration and evaluate" with the group's settings as defaults.
// Clicking a point or bar selects its run in the table and the other way round.
#include <QWidget>
#include <vector>

#include "comparison_rows.h"
#include "skvq/run_store.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace skvq::gui {
class CurvePlot;
class GroupedBarPlot;
}

namespace skvq::studio {

class JobRunner;

class ComparisonView : public QWidget {
  Q_OBJECT
 public:
  explicit ComparisonView(QWidget* parent = nullptr);
  /// The store to read (GUI thread) and its path (the worker opens its own connection).
  void setStore(RunStore* store);
  void setJobRunner(JobRunner* runner) { runner_ = runner; }
  void setDataDir(const QString& dir);
  void refresh();
  /// Starts evaluating the configuration typed in the box. Returns false if it could not start.
  bool evaluate();
  /// Starts evaluating the unquantized (fp16) baseline with the current settings.
  bool evaluateBaseline();
  /// Our runs and peer rows of the model, all settings.
  const std::vector<RunRecord>& runs() const { return runs_; }
  /// The rows of the selected settings group, in table order before any sorting.
  const std::vector<ComparisonRow>& rows() const { return rows_; }
  /// Selects the row of `runId` in the table and marks it on the plots; false if not shown.
  bool selectRun(qint64 runId);
  /// Refreshes, switches to the settings group of run `runId` and selects it; false if the run
  /// is not a done ppl/peer run of a model in the store.
  bool showRun(qint64 runId);
  qint64 selectedRun() const;
  QTableWidget* table() const { return table_; }
  QComboBox* settingsBox() const { return settings_; }
  QComboBox* yAxisBox() const { return yAxis_; }
  QLabel* baselineNote() const { return baselineNote_; }
  QPushButton* baselineButton() const { return baseline_; }
  gui::CurvePlot* pplPlot() const { return pplPlot_; }
  gui::GroupedBarPlot* bytesPlot() const { return bytesPlot_; }
  gui::CurvePlot* memoryPlot() const { return memoryPlot_; }

 Q_SIGNALS:
  void errorOccurred(const QString& title, const QString& message);
  void runAdded(qint64 runId);

 private:
  QLayout* buildEvaluateRow();
  void redraw();
  void fillTable();
  void applyGroupDefaults();
  void updateBaselineNote();
  void drawPplPlot();
  void drawBytesPlot();
  void drawMemoryPlot();
  const ModelRecord* currentModel() const;
  bool startEvaluation(const QString& config);
  RunStore* store_ = nullptr;
  JobRunner* runner_ = nullptr;
  std::vector<RunRecord> runs_;
  std::vector<ModelRecord> models_;
  std::vector<SettingsGroup> groups_;
  std::vector<ComparisonRow> rows_;
  QComboBox* model_;
  QComboBox* settings_;
  QComboBox* yAxis_;
  QLabel* baselineNote_;
  QPushButton* baseline_;
  QTableWidget* table_;
  gui::CurvePlot* pplPlot_;
  gui::GroupedBarPlot* bytesPlot_;
  gui::CurvePlot* memoryPlot_;
  QLineEdit* config_;
  QComboBox* calibration_;
  QLineEdit* text_;
  QSpinBox* ctxLen_;
  QSpinBox* chunks_;
  QSpinBox* maxBytes_;
  QSpinBox* skipBytes_;
  QComboBox* protocol_;
  QPushButton* evaluate_;
  bool syncing_ = false;
};

}  // namespace skvq::studio
