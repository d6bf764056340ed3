// The calibration wizard driven page by page on the demo model: model description, options,
// calibration on the worker thread with progress, cancel, review and registration in the store.
#include <QtTest/QtTest>
#include <QComboBox>

#include "calibration_wizard.h"
#include "channel_range_plot.h"
#include "gui_fixture.h"
#include "job_runner.h"
#include "outlier_view.h"
#include "skvq/run_store.h"
#include "test_util.h"
#include "wizard_model_page.h"
#include "wizard_options_page.h"
#include "wizard_review_page.h"
#include "wizard_run_page.h"

using namespace skvq;
using namespace skvq::studio;

class TestGuiWizard : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { QCoreApplication::setOrganizationName("skvq-test"); }

  void modelPageDescribesModelOrNamesTheProblem() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard.sqlite"), QString::fromStdString(test::data_dir()));
    WizardModelPage* page = w.modelPage();
    page->setModelPath("/nonexistent/model.bin");
    QVERIFY(!page->isComplete());
    QVERIFY2(page->description().contains("/nonexistent/model.bin"), qPrintable(page->description()));
    page->setModelPath(QString::fromStdString(test::stories_model()));
    QVERIFY(page->isComplete());
    QVERIFY2(page->description().contains("5 layers"), qPrintable(page->description()));
    QCOMPARE(page->info().kv_channels, 32);
  }

  void calibrateReviewAndRegister() {
    const QString dir = QString::fromStdString(test::temp_dir("gui-wizard"));
    const QString db = QDir(dir).filePath("runs.sqlite");
    JobRunner runner;
    CalibrationWizard w(&runner, db, QString::fromStdString(test::data_dir()));
    w.show();
    w.modelPage()->setModelPath(QString::fromStdString(test::stories_model()));
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::OptionsPage));
    w.optionsPage()->setOptions(QString::fromStdString(test::data("text/tinystories/tinystories_val.txt")),
                                6, 96, "8,16", 7);
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::RunPage));
    QVERIFY(!w.runPage()->isComplete());
    QSignalSpy progress(&runner, &JobRunner::progress);
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(w.runPage()->start());
    QVERIFY(idle.wait(300000));
    QVERIFY2(w.runPage()->isComplete(), qPrintable(w.runPage()->statusText()));
    QVERIFY(progress.count() >= 1);
    QVERIFY(w.result());
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::ReviewPage));
    OutlierView* view = w.reviewPage()->outlierView();
    auto* layer = view->findChild<QComboBox*>("layer");
    auto* groups = view->findChild<QComboBox*>("groupSize");
    QCOMPARE(layer->count(), 5);
    QCOMPARE(groups->count(), 2);
    const auto first = calibration_channels_item(*w.result(), 0, 8);
    QCOMPARE(view->channelPlot()->displayOrder()[0], first["k"]["perm"][0].get<int>());
    layer->setCurrentIndex(4);
    const auto last = calibration_channels_item(*w.result(), 4, 8);
    QCOMPARE(view->channelPlot()->dataLow(), *std::min_element(last["k"]["min"].begin(), last["k"]["min"].end()));
    groups->setCurrentIndex(1);  // g = 16: 2 groups -> 1 boundary
    QCOMPARE(view->channelPlot()->boundaries().size(), 1);
    const QString out = QDir(dir).filePath("calib.json");
    w.reviewPage()->setOutputPath(out);
    QVERIFY2(w.reviewPage()->validatePage(), qPrintable(w.reviewPage()->lastError()));
    QVERIFY(w.calibrationId() > 0);
    RunStore store(db.toStdString());
    const auto calibs = store.list_calibrations();
    QCOMPARE(calibs.size(), size_t{1});
    QCOMPARE(calibs[0].samples, 6);
    QCOMPARE(calibs[0].seq_len, 96);
    QCOMPARE(calibs[0].group_sizes, (std::vector<int64_t>{8, 16}));
    QVERIFY(QFile::exists(out));
  }

  void cancelStopsTheCalibration() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-cancel.sqlite"), QString::fromStdString(test::data_dir()));
    w.show();
    w.modelPage()->setModelPath(QString::fromStdString(test::stories_model()));
    w.next();
    w.optionsPage()->setOptions(QString::fromStdString(test::data("text/tinystories/tinystories_val.txt")),
                                4000, 256, "8,16", 1);
    w.next();
    QSignalSpy cancelled(&runner, &JobRunner::cancelled);
    QVERIFY(w.runPage()->start());
    QTest::qWait(300);
    w.runPage()->cancel();
    QVERIFY(cancelled.wait(120000));
    QVERIFY(!w.runPage()->isComplete());
    QCOMPARE(w.runPage()->statusText(), QString("Cancelled."));
  }
};

QTEST_MAIN(TestGuiWizard)
#include "test_gui_wizard.moc"
