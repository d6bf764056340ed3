#pragma once
// The calibration wizard's options and last paths, remembered with QSettings (group
// "calibrationWizard") and restored the next time the wizard opens.
#include <QString>

namespace skvq::studio {

struct CalibrationWizardOptions {
  QString modelPath, tokenizerPath, textPath;
  QString outputDir;  ///< folder of the last saved calibration file; empty = beside the run store
  int maxKiB = 256;   ///< text read for calibration; 0 = whole file
  int samples = 16, seqLen = 256, seed = 1234;
  QString groupSizes = QStringLiteral("8,16,32");
};

/// The stored options; a value never stored keeps its value in `defaults`.
CalibrationWizardOptions load_wizard_options(const CalibrationWizardOptions& defaults);
void save_wizard_options(const CalibrationWizardOptions& options);
/// Forgets every stored wizard option (tests).
void clear_wizard_options();

}  // namespace skvq::studio
