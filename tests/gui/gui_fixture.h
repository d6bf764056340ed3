#pragma once
// Real data for the GUI tests: a run store filled by the built `skvq` command line from the
// demo model (stories260K): ppl runs (fp16 and quantized), a calibration, two needle runs
// (fp16 and 2-bit) and an analyze run. Built once and kept in the build folder.
#include <QString>

namespace skvq::test {

struct GuiFixture {
  QString dir, db, model, text, calibration;
};

/// Builds the fixture on first use (minutes); QFAIL-style: returns an empty db on failure and
/// prints the failing command.
const GuiFixture& gui_fixture();
/// A copy of the fixture store in a fresh temporary directory (tests that write to it).
QString copy_of_fixture_db(const QString& name);

}  // namespace skvq::test
