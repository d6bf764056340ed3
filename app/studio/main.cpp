// skvq-studio: the SKVQ desktop application; `--batch JOB.json` runs a batch without a window.
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QTimer>
#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>

#include "engine.h"
#include "main_window.h"
#include "skvq/blas_select.h"
#include "skvq/common.h"
#include "skvq/error.h"
#include "studio_settings.h"

namespace {

std::atomic<bool> g_cancel{false};

bool wantsHeadless(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    for (const char* flag : {"--batch", "--help", "-h", "--help-all", "--version", "-v"})
      if (std::strcmp(argv[i], flag) == 0 || std::strncmp(argv[i], "--batch=", 8) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  skvq::select_blas_kernels(argv);
  std::unique_ptr<QCoreApplication> app(wantsHeadless(argc, argv) ? new QCoreApplication(argc, argv)
                                                                  : new QApplication(argc, argv));
  QCoreApplication::setOrganizationName(QStringLiteral("skvq"));
  QCoreApplication::setApplicationName(QStringLiteral("skvq-studio"));
  QCoreApplication::setApplicationVersion(QStringLiteral(SKVQ_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "SKVQ Studio: calibrate, evaluate and inspect sliding-window KV-cache quantization."));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption batch(QStringLiteral("batch"),
                                 QStringLiteral("Run the batch job file JOB headlessly (no window) and exit."),
                                 QStringLiteral("JOB"));
  const QCommandLineOption db(QStringLiteral("db"), QStringLiteral("Run store (SQLite) to open."), QStringLiteral("PATH"));
  const QCommandLineOption dataDir(QStringLiteral("data-dir"),
                                   QStringLiteral("Data directory (default: $SKVQ_DATA_DIR or ../shared/data)."),
                                   QStringLiteral("DIR"));
  const QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("CPU threads (0 = all cores)."),
                                   QStringLiteral("N"));
  const QCommandLineOption calibration(QStringLiteral("calibration"),
                                       QStringLiteral("Open a calibration file in the outlier view."),
                                       QStringLiteral("FILE"));
  const QCommandLineOption screenshots(QStringLiteral("screenshot-dir"),
                                       QStringLiteral("Save a PNG of the window and each view into DIR, then exit."),
                                       QStringLiteral("DIR"));
  parser.addOptions({batch, db, dataDir, threads, calibration, screenshots});
  parser.addPositionalArgument(QStringLiteral("store"), QStringLiteral("Run store to open (same as --db)."), QStringLiteral("[store]"));
  parser.process(*app);

  if (parser.isSet(dataDir)) qputenv("SKVQ_DATA_DIR", parser.value(dataDir).toLocal8Bit());
  skvq::studio::StudioSettings settings;
  skvq::set_threads(parser.isSet(threads) ? parser.value(threads).toInt() : settings.threads());
  QString dbPath = parser.isSet(db) ? parser.value(db) : settings.databasePath();
  if (!parser.positionalArguments().isEmpty()) dbPath = parser.positionalArguments().first();

  if (parser.isSet(batch)) {
    std::signal(SIGINT, [](int) { g_cancel = true; });
    try {
      QDir().mkpath(QFileInfo(dbPath).absolutePath());  // the default store's folder may not exist yet
      return skvq::studio::run_batch(parser.value(batch).toStdString(), dbPath.toStdString(), std::cout, &g_cancel);
    } catch (const skvq::Cancelled&) {
      std::cerr << "skvq-studio: cancelled\n";
      return 130;
    } catch (const std::exception& e) {
      std::cerr << "skvq-studio: error: " << e.what() << "\n";
      return 1;
    }
  }

  skvq::studio::MainWindow window;
  if (parser.isSet(dataDir)) settings.setDataDir(parser.value(dataDir));
  window.setQuiet(parser.isSet(screenshots));
  window.openDatabase(dbPath);
  if (parser.isSet(calibration)) window.openCalibrationFile(parser.value(calibration));
  window.show();
  if (parser.isSet(screenshots)) {
    QTimer::singleShot(500, &window, [&] {
      const QStringList files = window.saveScreenshots(parser.value(screenshots));
      for (const QString& f : files) std::cout << f.toStdString() << "\n";
      QCoreApplication::exit(files.isEmpty() ? 1 : 0);
    });
  }
  return app->exec();
}
