#pragma once
// Run > Attention locality analysis: model, text, token count, configuration for the error
// analysis, sink and window sizes; runs core's run_analyze (skvq analyze) and opens the run in
// the locality and outlier views.
#include "engine_runs.h"
#include "run_form.h"

class QLineEdit;
class QSpinBox;

namespace skvq::studio {

class LocalityForm : public RunForm {
  Q_OBJECT
 public:
  explicit LocalityForm(JobRunner* runner, QWidget* parent = nullptr);
  /// Sets the text field to <dataDir>/text/tinystories/tinystories_val.txt.
  void setDataDir(const QString& dir);

 protected:
  bool checkFields() override;
  JobRunner::Work work(const std::string& db) const override;

 private:
  QLineEdit* model_;
  QLineEdit* calibration_;
  QLineEdit* text_;
  QLineEdit* config_;
  QLineEdit* sinks_;
  QLineEdit* windows_;
  QSpinBox* maxTokens_;
  AnalyzeRequest req_;  ///< filled by checkFields
};

}  // namespace skvq::studio
