#pragma once
// Wizard page 4: per-layer channel ranges and clusters of the new calibration; Finish saves
// the file and registers it in the run store.
#include <QWizardPage>

class QLineEdit;

namespace skvq::studio {

class OutlierView;

class WizardReviewPage : public QWizardPage {
  Q_OBJECT
 public:
  explicit WizardReviewPage(QWidget* parent = nullptr);
  void initializePage() override;
  bool validatePage() override;
  OutlierView* outlierView() const { return view_; }
  void setOutputPath(const QString& path);
  QString lastError() const { return lastError_; }

 private:
  OutlierView* view_;
  QLineEdit* out_;
  QString lastError_;
};

}  // namespace skvq::studio
