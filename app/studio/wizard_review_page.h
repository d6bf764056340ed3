#pragma once
// Wizard page 4: per-layer channel ranges and clusters of the new calibration; Finish saves
// the file (asking before overwriting one) and registers it in the run store. A calibration
// has no quantization error, so the view's MSE plots are hidden and a note says where they are.
#include <QWizardPage>

class QLabel;
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
  QString outputPath() const;
  void setOutputPath(const QString& path);
  /// Folder the default file name goes in (the last one saved to); empty = beside the store.
  QString outputDir() const { return outputDir_; }
  void setOutputDir(const QString& dir) { outputDir_ = dir; }
  /// The note shown in place of the MSE plots.
  QLabel* errorNote() const { return note_; }
  QString lastError() const { return lastError_; }

 private:
  void browse();
  OutlierView* view_;
  QLabel* note_;
  QLineEdit* out_;
  QString outputDir_, lastError_;
  QString confirmed_;  ///< a path the user already agreed to overwrite (Save dialog or question)
};

}  // namespace skvq::studio
