#pragma once
// Run > Memory planner: KV-cache memory of configurations for a model (Hugging Face directory,
// its config.json, a GGUF or llama2.c file) from core's memory accounting (skvq/memory.h,
// skvq memory): a table of bytes per token, compression, longest context in a budget and cache
// size at a context, and a plot of cache size against context length. Computed at once, no job.
#include <nlohmann/json.hpp>

#include "run_form.h"

class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;
class QTableWidget;

namespace skvq::gui {
class CurvePlot;
}

namespace skvq::studio {

class MemoryPlanner : public RunForm {
  Q_OBJECT
 public:
  /// Table columns.
  enum Column { Config, BitsK, BitsV, BytesPerToken, Codes, ScaleZero, SinkWindow, Compression, MaxContext,
                CacheAtCtx, ColumnCount };
  explicit MemoryPlanner(QWidget* parent = nullptr);
  /// Validates and fills the table and the plot; false (table unchanged) when a field is invalid.
  bool launch() override;
  QTableWidget* table() const { return table_; }
  gui::CurvePlot* plot() const { return plot_; }
  /// The last report (core's memory_report JSON).
  const nlohmann::json& report() const { return report_; }

 protected:
  bool checkFields() override;
  JobRunner::Work work(const std::string&) const override { return {}; }

 private:
  void fill();
  /// Budget minus the float16 weights in MiB (0 without a budget; negative when they do not fit).
  double budgetLeftMiB() const;
  QLineEdit* model_;
  QLineEdit* configs_;
  QDoubleSpinBox* budget_;
  QSpinBox* ctx_;
  QTableWidget* table_;
  gui::CurvePlot* plot_;
  std::vector<std::string> configList_;
  nlohmann::json report_;
};

}  // namespace skvq::studio
