#pragma once
// Run > Batch job file: a JSON batch file (skvq batch, batch.h format) is checked first (its
// fields, paths and configuration strings, nothing loaded: run_batch_file's plan), then run into
// the open store; the log with the comparison table shows below the form.
#include "run_form.h"

class QLineEdit;
class QPlainTextEdit;

namespace skvq::studio {

class BatchForm : public RunForm {
  Q_OBJECT
 public:
  explicit BatchForm(JobRunner* runner, QWidget* parent = nullptr);
  QPlainTextEdit* log() const { return log_; }

 protected:
  bool checkFields() override;
  JobRunner::Work work(const std::string& db) const override;
  void showResult(const QVariantMap& result) override;

 private:
  QLineEdit* job_;
  QPlainTextEdit* log_;
};

}  // namespace skvq::studio
