#pragma once
// Wizard page 1: choose a llama2.c file, GGUF file or Hugging Face directory (and optionally its
// tokenizer). Next is enabled as soon as the path passes check_model_path; the inspection
// (loading the weights, sha256 fingerprint) runs on a worker thread and fills the description.
#include <QFutureWatcher>
#include <QWizardPage>
#include <functional>

#include "engine.h"

class QLabel;
class QLineEdit;
class QTimer;

namespace skvq::studio {

class WizardModelPage : public QWizardPage {
  Q_OBJECT
 public:
  /// Loads a model and describes it; runs on a worker thread. Default: inspect_model.
  using Inspector = std::function<ModelInfo(const std::string& path)>;

  explicit WizardModelPage(QWidget* parent = nullptr);
  ~WizardModelPage() override;
  QString modelPath() const;
  /// Sets the path and starts its inspection at once (no debounce).
  void setModelPath(const QString& path);
  QString tokenizerPath() const;
  void setTokenizerPath(const QString& path);
  /// Starts the inspection of the current path on a worker thread (inspected() when done);
  /// does nothing when the path fails check_model_path.
  void inspect();
  bool isInspecting() const;
  /// Waits (processing events) until the running inspection ends; false on timeout.
  bool waitForInspection(int timeoutMs);
  void setInspector(Inspector inspector) { inspector_ = std::move(inspector); }
  QString description() const;
  /// The inspected model; empty (kv_channels 0) before the inspection of the path ended.
  const ModelInfo& info() const { return info_; }
  bool isComplete() const override;

 Q_SIGNALS:
  /// The inspection of the current path ended: ok, or its error is in description().
  void inspected(bool ok);

 private:
  struct Outcome {
    ModelInfo info;
    QString error;
    int generation = 0;
  };
  void pathEdited();
  void onInspected();
  QLineEdit* path_;
  QLineEdit* tokenizer_;
  QLabel* description_;
  QLabel* tokNote_;
  QTimer* debounce_;
  QFutureWatcher<Outcome> watcher_;
  Inspector inspector_;
  ModelInfo info_;
  QString kind_;
  int generation_ = 0;
  bool pathOk_ = false, failed_ = false, inspecting_ = false;
};

}  // namespace skvq::studio
