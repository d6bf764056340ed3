// Window and application state: QSettings round trips (geometry, docks, view choices), the
// About text, the status bar after a failed job, and registering a calibration with a tokenizer
// from elsewhere. Real stories260K data from the GUI fixture.
#include <QtTest/QtTest>
#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <sqlite3.h>

#include "comparison_view.h"
#include "engine.h"
#include "gui_fixture.h"
#include "job_runner.h"
#include "job_status_widget.h"
#include "locality_view.h"
#include "main_window.h"
#include "needle_view.h"
#include "outlier_view.h"
#include "test_util.h"

using namespace skvq;
using namespace skvq::studio;

class TestGuiAppState : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("skvq-test-app-state");
    QSettings().remove("window");
    QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built");
  }

  void calibrationRegistersWithATokenizerFromElsewhere() {
    // The model alone in a folder, its tokenizer left where it was (the wizard's tokenizer field).
    const QString dir = QString::fromStdString(test::temp_dir("gui-own-tokenizer"));
    const QString model = QDir(dir).filePath("stories260K.bin");
    QVERIFY(QFile::copy(QString::fromStdString(test::stories_model()), model));
    const auto calib = load_calibration(test::gui_fixture().calibration.toStdString());
    const std::string db = QDir(dir).filePath("runs.sqlite").toStdString();
    const std::string out = QDir(dir).filePath("calib.json").toStdString();
    try {
      save_and_register_calibration(*calib, model.toStdString(), out, db);
      QFAIL("no error without a tokenizer beside the model");
    } catch (const std::exception& e) {
      QVERIFY2(QString(e.what()).contains(dir), e.what());
    }
    const int64_t id = save_and_register_calibration(*calib, model.toStdString(), out, db, test::stories_tokenizer());
    RunStore store(db);
    QCOMPARE(store.list_calibrations().size(), size_t{1});
    QCOMPARE(store.list_calibrations()[0].id, id);
  }

  void statusBarAfterFailureAndCancelIsEmpty() {
    JobRunner runner;
    JobStatusWidget status(&runner);
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(runner.start("fails", [](ProgressFn p, CancelFlag) -> QVariant {
      p(4, 4);
      throw std::runtime_error("broken");
    }));
    QVERIFY(idle.wait(10000));
    QCOMPARE(status.progressValue(), 0);
    QVERIFY(status.text().contains("failed"));
    QVERIFY(runner.start("works", [](ProgressFn p, CancelFlag) -> QVariant {
      p(2, 2);
      return 1;
    }));
    QVERIFY(idle.wait(10000));
    QCOMPARE(status.progressValue(), 1000);
  }

  void windowStateAndInputsRoundTripThroughQSettings() {
    {
      MainWindow a;
      a.setQuiet(true);
      // Fits a 1280x720 screen with room for a panel and the title bar.
      QVERIFY2(a.minimumSizeHint().height() <= 640 && a.minimumSizeHint().width() <= 1280,
               qPrintable(QString("%1x%2").arg(a.minimumSizeHint().width()).arg(a.minimumSizeHint().height())));
      a.resize(1100, 640);
      a.show();
      QVERIFY(QTest::qWaitForWindowExposed(&a));
      a.findChild<QDockWidget*>("needleDock")->hide();
      a.comparisonView()->yAxisBox()->setCurrentIndex(2);
      QVERIFY(a.close());  // closeEvent saves geometry and dock state
    }
    {
      MainWindow b;  // the constructor restores them
      b.setQuiet(true);
      QVERIFY(b.findChild<QDockWidget*>("needleDock")->isHidden());
      QVERIFY(!b.findChild<QDockWidget*>("outlierDock")->isHidden());
      QCOMPARE(b.size(), QSize(1100, 640));
      QCOMPARE(b.comparisonView()->yAxisBox()->currentIndex(), 2);
      const QString about = b.aboutText();
      QVERIFY2(about.contains(QString("Qt ") + qVersion()), qPrintable(about));
      QVERIFY2(about.contains(QRegularExpression("LibTorch \\d+\\.\\d+")), qPrintable(about));
      QVERIFY2(about.contains(QString("SQLite ") + sqlite3_libversion()), qPrintable(about));
      QVERIFY2(about.contains("CUDA: "), qPrintable(about));
      b.comparisonView()->yAxisBox()->setCurrentIndex(0);
    }
    QSettings().remove("window");
  }

  void viewChoicesAreRemembered() {
    QSettings().remove("views");
    {
      OutlierView a;
      NeedleView n;
      LocalityView l;
      auto* order = a.findChild<QComboBox*>("order");
      QCOMPARE(order->currentIndex(), 1);  // default: reordered
      order->setCurrentIndex(0);
      Q_EMIT order->activated(0);  // as a user's choice
      auto* metric = n.findChild<QComboBox*>("metric");
      metric->setCurrentIndex(2);
      Q_EMIT metric->activated(2);
      a.findChild<QComboBox*>("tensor")->setCurrentIndex(1);  // set by code: not remembered
      l.findChild<QCheckBox*>("fixedScale")->click();
    }
    OutlierView a;
    NeedleView n;
    LocalityView l;
    QCOMPARE(a.findChild<QComboBox*>("order")->currentIndex(), 0);
    QCOMPARE(a.findChild<QComboBox*>("tensor")->currentIndex(), 0);
    QCOMPARE(n.findChild<QComboBox*>("metric")->currentIndex(), 2);
    QCOMPARE(l.findChild<QCheckBox*>("fixedScale")->isChecked(), true);
    QSettings().remove("views");
  }
};

QTEST_MAIN(TestGuiAppState)
#include "test_gui_app_state.moc"
