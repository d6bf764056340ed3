#include "wizard_settings.h"

#include <QSettings>

namespace skvq::studio {

namespace {
const QString kGroup = QStringLiteral("calibrationWizard");
}

CalibrationWizardOptions load_wizard_options(const CalibrationWizardOptions& d) {
  QSettings s;
  s.beginGroup(kGroup);
  CalibrationWizardOptions o;
  o.modelPath = s.value("modelPath", d.modelPath).toString();
  o.tokenizerPath = s.value("tokenizerPath", d.tokenizerPath).toString();
  o.textPath = s.value("textPath", d.textPath).toString();
  o.outputDir = s.value("outputDir", d.outputDir).toString();
  o.maxKiB = s.value("maxKiB", d.maxKiB).toInt();
  o.samples = s.value("samples", d.samples).toInt();
  o.seqLen = s.value("seqLen", d.seqLen).toInt();
  o.seed = s.value("seed", d.seed).toInt();
  o.groupSizes = s.value("groupSizes", d.groupSizes).toString();
  return o;
}

void save_wizard_options(const CalibrationWizardOptions& o) {
  QSettings s;
  s.beginGroup(kGroup);
  s.setValue("modelPath", o.modelPath);
  s.setValue("tokenizerPath", o.tokenizerPath);
  s.setValue("textPath", o.textPath);
  s.setValue("outputDir", o.outputDir);
  s.setValue("maxKiB", o.maxKiB);
  s.setValue("samples", o.samples);
  s.setValue("seqLen", o.seqLen);
  s.setValue("seed", o.seed);
  s.setValue("groupSizes", o.groupSizes);
}

void clear_wizard_options() { QSettings().remove(kGroup); }

}  // namespace skvq::studio
