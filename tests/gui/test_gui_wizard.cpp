// The calibration wizard driven page by page on the demo model (stories260K): model path
// checks and the inspection on a worker thread, options, calibration on the worker thread with
// progress, Back and closing while it runs, cancel and failure, review without empty MSE
// plots, the overwrite question, registration in the store, and options kept in QSettings.
#include <QtTest/QtTest>
#include <QAbstractButton>
#include <QComboBox>
#include <QCryptographicHash>
#include <QLineEdit>
#include <QProgressBar>
#include <QThread>

#include "calibration_wizard.h"
#include "channel_range_plot.h"
#include "curve_plot.h"
#include "grouped_bar_plot.h"
#include "gui_fixture.h"
#include "job_runner.h"
#include "outlier_view.h"
#include "skvq/run_store.h"
#include "test_util.h"
#include "wizard_model_page.h"
#include "wizard_options_page.h"
#include "wizard_review_page.h"
#include "wizard_run_page.h"
#include "wizard_settings.h"

using namespace skvq;
using namespace skvq::studio;

namespace {
QString q(const std::string& s) { return QString::fromStdString(s); }
QString stories() { return q(test::stories_model()); }
QString tinystories() { return q(test::data("text/tinystories/tinystories_val.txt")); }
QString data_root() { return q(test::data_dir()); }

void write_file(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(bytes);
}

QByteArray read_file(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// Questions asked through CalibrationWizard::ask, answered with `answer`.
struct Asked {
  QStringList texts;
  bool answer = false;
  CalibrationWizard::QuestionHook hook() {
    return [this](const QString&, const QString& text) {
      texts << text;
      return answer;
    };
  }
};

/// A wizard on the run page with the given options (not started).
void go_to_run_page(CalibrationWizard& w, const QString& text, int samples, int seqLen) {
  w.show();
  w.modelPage()->setModelPath(stories());
  w.next();
  w.optionsPage()->setOptions(text, samples, seqLen, "8,16", 1);
  w.next();
  QCOMPARE(w.currentId(), int(CalibrationWizard::RunPage));
}
}  // namespace

class TestGuiWizard : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { QCoreApplication::setOrganizationName("skvq-test"); }
  void init() { clear_wizard_options(); }
  void cleanupTestCase() { clear_wizard_options(); }

  void modelPageDescribesModelOrNamesTheProblem() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard.sqlite"), data_root());
    WizardModelPage* page = w.modelPage();
    page->setModelPath("/nonexistent/model.bin");
    QVERIFY(!page->isComplete());
    QVERIFY(!page->isInspecting());  // a missing path is not inspected
    QVERIFY2(page->description().contains("/nonexistent/model.bin: no such file"), qPrintable(page->description()));
    page->setModelPath(stories());
    QVERIFY(page->isComplete());
    QVERIFY(page->waitForInspection(60000));
    QVERIFY(page->isComplete());
    QVERIFY2(page->description().contains("5 layers"), qPrintable(page->description()));
    QCOMPARE(page->info().kv_channels, 32);
    // The fingerprint is the file's sha256, computed here independently.
    const QByteArray sha = QCryptographicHash::hash(read_file(stories()), QCryptographicHash::Sha256).toHex();
    QCOMPARE(QString::fromStdString(page->info().sha256), QString::fromLatin1(sha));
    QVERIFY(page->description().contains(QString::fromLatin1(sha)));
  }

  void nextEnabledForAValidPathWithoutInspect() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-next.sqlite"), data_root());
    w.show();
    auto* edit = w.modelPage()->findChild<QLineEdit*>("modelPath");
    QAbstractButton* next = w.button(QWizard::NextButton);
    edit->setText("/nonexistent/model.bin");
    QVERIFY(!next->isEnabled());
    edit->setText(stories());  // typed: no Inspect, no event processed yet
    QVERIFY(next->isEnabled());
    QCOMPARE(w.modelPage()->info().kv_channels, 0);  // not inspected yet
    const QString dir = q(test::temp_dir("gui-wizard-next"));
    edit->setText(dir);  // a directory without config.json
    QVERIFY(!next->isEnabled());
    QVERIFY2(w.modelPage()->description().contains("without config.json"), qPrintable(w.modelPage()->description()));
    edit->setText(tinystories());  // a text file: neither GGUF nor a sane llama2.c header
    QVERIFY(!next->isEnabled());
    QVERIFY2(w.modelPage()->description().contains("not a llama2.c checkpoint"), qPrintable(w.modelPage()->description()));
    // A file with the GGUF magic passes the check; its inspection then fails and disables Next.
    const QString fake = QDir(dir).filePath("fake.gguf");
    write_file(fake, QByteArray("GGUF") + QByteArray(12, '\0'));
    edit->setText(fake);
    QVERIFY(next->isEnabled());
    w.modelPage()->inspect();
    QVERIFY(w.modelPage()->waitForInspection(60000));
    QVERIFY(!next->isEnabled());
    QVERIFY2(w.modelPage()->description().contains("Cannot load the model"), qPrintable(w.modelPage()->description()));
    // A tokenizer path that does not exist disables Next too.
    edit->setText(stories());
    QVERIFY(next->isEnabled());
    w.modelPage()->setTokenizerPath("/nonexistent/tok.bin");
    QVERIFY(!next->isEnabled());
    w.modelPage()->setTokenizerPath(q(test::stories_tokenizer()));
    QVERIFY(next->isEnabled());
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::OptionsPage));
  }

  void guiThreadRespondsDuringInspection() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-thread.sqlite"), data_root());
    WizardModelPage* page = w.modelPage();
    QThread* gui = QThread::currentThread();
    std::atomic<QThread*> inspector{nullptr};
    page->setInspector([&inspector](const std::string& path) {
      inspector = QThread::currentThread();
      QThread::msleep(800);  // a large model: seconds of loading and hashing
      return inspect_model(path);
    });
    int ticks = 0;
    qint64 maxGap = 0;
    QElapsedTimer since;
    QTimer timer;
    timer.setInterval(20);
    connect(&timer, &QTimer::timeout, [&] {
      if (ticks++ > 0) maxGap = std::max(maxGap, since.elapsed());
      since.restart();
    });
    QElapsedTimer t;
    t.start();
    page->setModelPath(stories());
    QVERIFY2(t.elapsed() < 300, qPrintable(QString::number(t.elapsed())));  // returned at once
    QVERIFY(page->isInspecting());
    QVERIFY(page->isComplete());  // Next does not wait for the inspection
    since.start();
    timer.start();
    QSignalSpy done(page, &WizardModelPage::inspected);
    QVERIFY(done.wait(60000));
    timer.stop();
    QCOMPARE(done.at(0).at(0).toBool(), true);
    QVERIFY(inspector.load() != nullptr && inspector.load() != gui);
    // 800 ms at 20 ms a tick is 40 ticks on an idle machine; a blocked GUI thread gives ~1.
    QVERIFY2(ticks >= 10, qPrintable(QString::number(ticks)));
    QVERIFY2(maxGap < 400, qPrintable(QString::number(maxGap)));
    QCOMPARE(page->info().kv_channels, 32);
  }

  void calibrateReviewAndRegister() {
    const QString dir = q(test::temp_dir("gui-wizard"));
    const QString db = QDir(dir).filePath("runs.sqlite");
    JobRunner runner;
    CalibrationWizard w(&runner, db, data_root());
    Asked asked;
    w.setQuestionHook(asked.hook());
    w.show();
    w.modelPage()->setModelPath(stories());
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::OptionsPage));
    w.optionsPage()->setOptions(tinystories(), 6, 96, "8,16", 7);
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::RunPage));
    QVERIFY(!w.runPage()->isComplete());
    QSignalSpy progress(&runner, &JobRunner::progress);
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(w.runPage()->start());
    QCOMPARE(load_wizard_options({}).samples, 6);  // stored when the run starts
    QVERIFY(idle.wait(300000));
    QVERIFY2(w.runPage()->isComplete(), qPrintable(w.runPage()->statusText()));
    QCOMPARE(w.runPage()->statusText(), QString("Done: 5 layers calibrated. Press Next to review."));
    // 6 samples then 2 group sizes: the last report is 8 of 8.
    QVERIFY(progress.count() >= 1);
    QCOMPARE(progress.last().at(0).toLongLong(), 8);
    QCOMPARE(progress.last().at(1).toLongLong(), 8);
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

    // A calibration has no quantization error: no empty MSE plot, a note instead.
    QVERIFY(view->channelPlot()->isVisible());
    QVERIFY(!view->errorPlot()->isVisible());
    QVERIFY(!view->layerErrorPlot()->isVisible());
    QVERIFY(w.reviewPage()->errorNote()->isVisible());
    QVERIFY(w.reviewPage()->errorNote()->text().contains("skvq analyze"));
    QCOMPARE(w.reviewPage()->outputPath(), QDir(dir).filePath("stories260K-calib-n6-l96-s7.json"));

    // An existing file: asked first; No keeps it, Yes overwrites it.
    const QString out = QDir(dir).filePath("calib.json");
    write_file(out, "old contents");
    w.reviewPage()->setOutputPath(out);
    asked.answer = false;
    QVERIFY(!w.reviewPage()->validatePage());
    QCOMPARE(asked.texts.size(), 1);
    QVERIFY2(asked.texts[0].contains(out) && asked.texts[0].contains("Overwrite"), qPrintable(asked.texts[0]));
    QCOMPARE(read_file(out), QByteArray("old contents"));
    QCOMPARE(w.calibrationId(), 0);
    asked.answer = true;
    QVERIFY2(w.reviewPage()->validatePage(), qPrintable(w.reviewPage()->lastError()));
    QCOMPARE(asked.texts.size(), 2);
    QVERIFY(w.calibrationId() > 0);
    RunStore store(db.toStdString());
    const auto calibs = store.list_calibrations();
    QCOMPARE(calibs.size(), size_t{1});
    QCOMPARE(calibs[0].samples, 6);
    QCOMPARE(calibs[0].seq_len, 96);
    QCOMPARE(calibs[0].group_sizes, (std::vector<int64_t>{8, 16}));
    QCOMPARE(calibration_layers(*load_calibration(out.toStdString())), 5);
    QCOMPARE(load_wizard_options({}).outputDir, QFileInfo(out).absolutePath());
  }

  void backDisabledAndClosingAsksWhileTheJobRuns() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-cancel.sqlite"), data_root());
    Asked asked;
    w.setQuestionHook(asked.hook());
    go_to_run_page(w, tinystories(), 4000, 256);
    QAbstractButton* back = w.button(QWizard::BackButton);
    QVERIFY(back->isEnabled());
    QSignalSpy cancelled(&runner, &JobRunner::cancelled);
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(w.runPage()->start());
    QVERIFY(w.runPage()->isRunning());
    QVERIFY(!back->isEnabled());
    back->setEnabled(true);  // as QWizard does when it updates its buttons
    QVERIFY(!back->isEnabled());
    QTest::qWait(200);
    QVERIFY(!back->isEnabled());
    QVERIFY2(w.runPage()->statusText().startsWith("Calibrating"), qPrintable(w.runPage()->statusText()));
    // Closing asks; No keeps the wizard and the job.
    asked.answer = false;
    w.reject();
    QCOMPARE(asked.texts.size(), 1);
    QVERIFY(asked.texts[0].contains("calibration is running"));
    QVERIFY(w.isVisible());
    QVERIFY(runner.isBusy());
    QCOMPARE(cancelled.count(), 0);
    // Yes cancels the job and closes.
    asked.answer = true;
    w.reject();
    QCOMPARE(asked.texts.size(), 2);
    QVERIFY(!w.isVisible());
    QCOMPARE(w.QDialog::result(), int(QDialog::Rejected));
    QVERIFY2(w.runPage()->statusText().startsWith("Cancelling"), qPrintable(w.runPage()->statusText()));
    QVERIFY(cancelled.wait(120000));
    if (idle.isEmpty()) QVERIFY(idle.wait(10000));
    QVERIFY(!w.runPage()->isComplete());
    QVERIFY(!w.runPage()->isRunning());
    QCOMPARE(w.runPage()->statusText(), QString("Cancelled. Press Start to run it again."));
    QCOMPARE(w.runPage()->findChild<QProgressBar*>("progress")->value(), 0);
  }

  void quietCloseCancelsWithoutAsking() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-quiet.sqlite"), data_root());
    Asked asked;
    w.setQuestionHook(asked.hook());
    w.setQuiet(true);
    go_to_run_page(w, tinystories(), 4000, 256);
    QSignalSpy cancelled(&runner, &JobRunner::cancelled);
    QVERIFY(w.runPage()->start());
    w.reject();
    QVERIFY(asked.texts.isEmpty());
    QVERIFY(!w.isVisible());
    QVERIFY(cancelled.wait(120000));
  }

  void cancelThenFailureLeaveNoStaleStatus() {
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-fail.sqlite"), data_root());
    go_to_run_page(w, tinystories(), 4000, 256);
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(w.runPage()->start());
    QTest::qWait(300);
    QVERIFY(!w.button(QWizard::BackButton)->isEnabled());
    w.runPage()->cancel();
    QVERIFY2(w.runPage()->statusText().startsWith("Cancelling"), qPrintable(w.runPage()->statusText()));
    QVERIFY(idle.wait(120000));
    QCOMPARE(w.runPage()->statusText(), QString("Cancelled. Press Start to run it again."));
    QCOMPARE(w.runPage()->findChild<QProgressBar*>("progress")->value(), 0);
    QVERIFY(w.button(QWizard::BackButton)->isEnabled());  // enabled again once the job ended
    // Back to the options: an empty text cannot give 6 samples of 96 tokens.
    w.back();
    QCOMPARE(w.currentId(), int(CalibrationWizard::OptionsPage));
    const QString empty = QDir(q(test::temp_dir("gui-wizard-fail"))).filePath("empty.txt");
    write_file(empty, "");
    w.optionsPage()->setOptions(empty, 6, 96, "8,16", 1);
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::RunPage));
    QVERIFY2(w.runPage()->statusText().endsWith("Press Start."), qPrintable(w.runPage()->statusText()));
    QVERIFY(w.runPage()->start());
    QVERIFY(idle.wait(120000));
    QVERIFY2(w.runPage()->statusText().contains("Calibration failed"), qPrintable(w.runPage()->statusText()));
    QVERIFY(!w.runPage()->isComplete());
    QVERIFY(w.button(QWizard::BackButton)->isEnabled());
    QVERIFY(w.runPage()->findChild<QPushButton*>("start")->isEnabled());
    QVERIFY(!w.runPage()->findChild<QPushButton*>("cancel")->isEnabled());
  }

  void optionsRoundTripThroughQSettings() {
    const QString dir = q(test::temp_dir("gui-wizard-settings"));
    JobRunner runner;
    {
      CalibrationWizard w(&runner, QDir(dir).filePath("runs.sqlite"), data_root());
      w.modelPage()->setModelPath(stories());
      w.modelPage()->setTokenizerPath(q(test::stories_tokenizer()));
      CalibrationWizardOptions o = w.optionsPage()->options();
      o.textPath = tinystories();
      o.maxKiB = 64;
      o.samples = 12;
      o.seqLen = 80;
      o.groupSizes = "4,8";
      o.seed = 99;
      w.optionsPage()->setOptions(o);
      w.reviewPage()->setOutputDir(dir);
      w.saveOptions();
    }
    CalibrationWizard w(&runner, QDir(dir).filePath("runs.sqlite"), data_root());
    QCOMPARE(w.modelPage()->modelPath(), stories());
    QCOMPARE(w.modelPage()->tokenizerPath(), q(test::stories_tokenizer()));
    const CalibrationWizardOptions o = w.optionsPage()->options();
    QCOMPARE(o.textPath, tinystories());
    QCOMPARE(o.maxKiB, 64);
    QCOMPARE(o.samples, 12);
    QCOMPARE(o.seqLen, 80);
    QCOMPARE(o.groupSizes, QString("4,8"));
    QCOMPARE(o.seed, 99);
    QCOMPARE(w.reviewPage()->outputDir(), dir);
    const CalibrationRequest r = w.request();
    QCOMPARE(r.samples, 12);
    QCOMPARE(r.group_sizes, (std::vector<int64_t>{4, 8}));
    QCOMPARE(r.max_text_bytes, 64 * 1024);
    QCOMPARE(q(r.tokenizer_path), q(test::stories_tokenizer()));
  }

  void rememberedPathsThatAreGoneFallBackToTheDemo() {
    CalibrationWizardOptions gone;
    gone.modelPath = "/nonexistent/model.bin";
    gone.textPath = "/nonexistent/text.txt";
    gone.samples = 5;
    save_wizard_options(gone);
    JobRunner runner;
    CalibrationWizard w(&runner, QDir::temp().filePath("skvq-wizard-gone.sqlite"), data_root());
    QCOMPARE(w.modelPage()->modelPath(), stories());
    QCOMPARE(w.optionsPage()->options().textPath, q(test::data("text/wikitext2/wiki.test.raw")));
    QCOMPARE(w.optionsPage()->options().samples, 5);
  }

  /// Every page fits a 1280x720 screen; with SKVQ_WIZARD_SHOTS=<dir> each page is also saved
  /// as a PNG there (to look at under Xvfb).
  void pagesFit1280x720() {
    const QString shots = qEnvironmentVariable("SKVQ_WIZARD_SHOTS");
    const QString dir = q(test::temp_dir("gui-wizard-shots"));
    JobRunner runner;
    CalibrationWizard w(&runner, QDir(dir).filePath("runs.sqlite"), data_root());
    w.setQuiet(true);
    w.show();
    auto check = [&](const QString& name) {
      QTest::qWait(100);
      const QSize min = w.minimumSizeHint();
      QVERIFY2(min.width() <= 1280 && min.height() <= 720,
               qPrintable(QString("%1: %2x%3").arg(name).arg(min.width()).arg(min.height())));
      QVERIFY2(w.width() <= 1280 && w.height() <= 720, qPrintable(name));
      if (!shots.isEmpty()) QVERIFY(w.grab().save(QDir(shots).filePath(name + ".png")));
    };
    w.modelPage()->setModelPath(stories());
    QVERIFY(w.modelPage()->waitForInspection(60000));
    check("1-model");
    w.next();
    check("2-options");
    w.optionsPage()->setOptions(tinystories(), 6, 96, "8,16", 7);
    w.next();
    QSignalSpy idle(&runner, &JobRunner::idle);
    QVERIFY(w.runPage()->start());
    QVERIFY(idle.wait(300000));
    check("3-run");
    w.next();
    QCOMPARE(w.currentId(), int(CalibrationWizard::ReviewPage));
    check("4-review");
    // The channel plot has the page's width (its title and legend were clipped at half of it).
    OutlierView* view = w.reviewPage()->outlierView();
    QVERIFY2(view->channelPlot()->width() > 0.9 * view->width(),
             qPrintable(QString("%1 of %2").arg(view->channelPlot()->width()).arg(view->width())));
    QVERIFY(w.width() >= std::min(1260, w.screen()->availableGeometry().width() - 40));
  }
};

QTEST_MAIN(TestGuiWizard)
#include "test_gui_wizard.moc"
