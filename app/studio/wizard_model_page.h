#pragma once
// Wizard page 1: choose a llama2.c file or Hugging Face directory and show its configuration.
#include <QWizardPage>

#include "engine.h"

class QLabel;
class QLineEdit;

namespace skvq::studio {

class WizardModelPage : public QWizardPage {
  Q_OBJECT
 public:
  explicit WizardModelPage(QWidget* parent = nullptr);
  QString modelPath() const;
  void setModelPath(const QString& path);
  /// Loads the model and shows ModelConfig::describe(); the error (file and problem) otherwise.
  bool inspect();
  QString description() const;
  const ModelInfo& info() const { return info_; }
  bool isComplete() const override;

 private:
  QLineEdit* path_;
  QLabel* description_;
  ModelInfo info_;
  bool ok_ = false;
};

}  // namespace skvq::studio
