#include "gui_fixture.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <cstdio>

#include "test_util.h"

namespace skvq::test {

namespace {
bool run(const QString& program, const QStringList& args) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(program, args);
  if (!p.waitForFinished(30 * 60 * 1000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
    std::fprintf(stderr, "fixture command failed: %s %s\n%s\n", qPrintable(program),
                 qPrintable(args.join(' ')), p.readAll().constData());
    return false;
  }
  return true;
}
}  // namespace

const GuiFixture& gui_fixture() {
  static GuiFixture f = [] {
    GuiFixture g;
    g.dir = QString::fromStdString(built("tests/gui/fixture"));
    g.model = QString::fromStdString(stories_model());
    g.text = QString::fromStdString(data("text/tinystories/tinystories_val.txt"));
    g.calibration = QDir(g.dir).filePath("stories260K-calib.json");
    const QString db = QDir(g.dir).filePath("runs.sqlite");
    const QString ready = QDir(g.dir).filePath("ready");
    if (QFile::exists(ready)) {
      g.db = db;
      return g;
    }
    QDir(g.dir).removeRecursively();
    QDir().mkpath(g.dir);
    const QString skvq = QString::fromStdString(built("app/skvq"));
    const QStringList common{"--db", db, "--threads", "2"};
    const bool ok =
        run(skvq, common + QStringList{"calibrate", "--model", g.model, "--text", g.text, "--max-bytes", "200000",
                                       "--samples", "8", "--seq-len", "128", "--group-sizes", "8,16",
                                       "--out", g.calibration}) &&
        run(skvq, common + QStringList{"ppl", "--model", g.model, "--text", g.text, "--ctx-len", "128",
                                       "--max-bytes", "100000", "--max-chunks", "4", "--calib", g.calibration,
                                       "--quant", "fp16", "--quant", "k4-v4-g16-sink4-fp8",
                                       "--quant", "k2-v2-g16-clip-sink4-fp8",
                                       "--quant", "k2-v2-g16-reorder-clip-sink4-fp8"}) &&
        run(skvq, common + QStringList{"needle", "--model", g.model, "--quant", "k2-v2-g16-sink4-fp8",
                                       "--lengths", "256,384", "--depths", "0,50,100",
                                       "--max-new-tokens", "12"}) &&
        run(skvq, common + QStringList{"analyze", "--model", g.model, "--text", g.text,
                                       "--max-tokens", "192", "--calib", g.calibration,
                                       "--quant", "k2-v2-g16-reorder-clip-sink4-fp8"});
    if (ok) {
      QFile r(ready);
      r.open(QIODevice::WriteOnly);
      g.db = db;
    }
    return g;
  }();
  return f;
}

QString copy_of_fixture_db(const QString& name) {
  const QString dir = QString::fromStdString(temp_dir(name.toStdString()));
  const QString target = QDir(dir).filePath("runs.sqlite");
  QFile::copy(gui_fixture().db, target);
  return target;
}

}  // namespace skvq::test
