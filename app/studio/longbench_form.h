#pragma once
// Run > LongBench tasks: model, JSONL data files (LongBench or L-Eval), optional task table,
// configurations, samples per task and the prompt token limit; runs core's run_longbench
// (skvq longbench) and shows each run's task scores in a table below the form.
#include "engine_runs.h"
#include "run_form.h"

class QLineEdit;
class QSpinBox;
class QTableWidget;

namespace skvq {
class RunStore;
}

namespace skvq::studio {

class LongBenchForm : public RunForm {
  Q_OBJECT
 public:
  explicit LongBenchForm(JobRunner* runner, QWidget* parent = nullptr);
  /// Sets the data field to <dataDir>/text/leval/topic_retrieval_longchat.jsonl.
  void setDataDir(const QString& dir);
  /// Rows "run, config, task, metric, score, samples" of the stored runs `ids`.
  void showScores(RunStore& store, const QList<qint64>& ids);
  QTableWidget* scores() const { return scores_; }

 protected:
  bool checkFields() override;
  JobRunner::Work work(const std::string& db) const override;
  void showResult(const QVariantMap& result) override;

 private:
  QLineEdit* model_;
  QLineEdit* calibration_;
  QLineEdit* data_;
  QLineEdit* tasks_;
  QLineEdit* configs_;
  QSpinBox* samples_;
  QSpinBox* promptTokens_;
  QTableWidget* scores_;
  LongBenchRequest req_;  ///< filled by checkFields
};

}  // namespace skvq::studio
