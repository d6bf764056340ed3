#pragma once
// Comparison dashboard over "ppl" runs of one model: a table, PPL vs average stored bits,
// KV bytes per token, KV-cache memory vs context length, and "add configuration and evaluate"
// (skvq::evaluate_perplexity on a worker thread).
#include <QWidget>
#include <vector>

#include "skvq/run_store.h"

class QComboBox;
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
  const std::vector<RunRecord>& runs() const { return runs_; }
  QTableWidget* table() const { return table_; }
  gui::CurvePlot* pplPlot() const { return pplPlot_; }
  gui::GroupedBarPlot* bytesPlot() const { return bytesPlot_; }
  gui::CurvePlot* memoryPlot() const { return memoryPlot_; }

 Q_SIGNALS:
  void errorOccurred(const QString& title, const QString& message);
  void runAdded(qint64 runId);

 private:
  void redraw();
  RunStore* store_ = nullptr;
  JobRunner* runner_ = nullptr;
  std::vector<RunRecord> runs_;
  std::vector<ModelRecord> models_;
  QComboBox* model_;
  QTableWidget* table_;
  gui::CurvePlot* pplPlot_;
  gui::GroupedBarPlot* bytesPlot_;
  gui::CurvePlot* memoryPlot_;
  QLineEdit* config_;
  QComboBox* calibration_;
  QLineEdit* text_;
  QSpinBox* ctxLen_;
  QSpinBox* chunks_;
  QPushButton* evaluate_;
};

}  // namespace skvq::studio
