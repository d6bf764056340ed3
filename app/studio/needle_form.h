#pragma once
// Run > Needle-in-a-haystack grid: model, calibration, configurations, context lengths, depths
// and answer length; runs core's run_needle (the unquantized reference first) and stores every cell.
#include "engine_runs.h"
#include "run_form.h"

class QLineEdit;
class QSpinBox;

namespace skvq::studio {

class NeedleForm : public RunForm {
  Q_OBJECT
 public:
  explicit NeedleForm(JobRunner* runner, QWidget* parent = nullptr);

 protected:
  bool checkFields() override;
  JobRunner::Work work(const std::string& db) const override;

 private:
  QLineEdit* model_;
  QLineEdit* calibration_;
  QLineEdit* configs_;
  QLineEdit* lengths_;
  QLineEdit* depths_;
  QLineEdit* haystack_;
  QSpinBox* maxNew_;
  NeedleRequest req_;  ///< filled by checkFields
};

}  // namespace skvq::studio
