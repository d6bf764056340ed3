// The main window and every view on a real run store (stories260K runs made by `skvq`):
// the widgets show the stored numbers and react to their controls.
#include <QtTest/QtTest>
#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDockWidget>
#include <QCryptographicHash>
#include <QLineEdit>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <cmath>
#include <fstream>
#include <sqlite3.h>

#include "channel_range_plot.h"
#include "comparison_view.h"
#include "curve_plot.h"
#include "grouped_bar_plot.h"
#include "gui_fixture.h"
#include "heatmap_widget.h"
#include "job_runner.h"
#include "job_status_widget.h"
#include "locality_view.h"
#include "main_window.h"
#include "empty_state_page.h"
#include "engine.h"
#include "run_details.h"
#include "needle_view.h"
#include "outlier_view.h"
#include "run_browser.h"
#include "test_util.h"

using namespace skvq;
using namespace skvq::studio;

namespace {
RunRecord firstRun(RunStore& store, const std::string& kind, const std::string& config = {}) {
  RunFilter f;
  f.kind = kind;
  for (const auto& r : store.list_runs(f))
    if (config.empty() || r.config == config) return r;
  return {};
}
double mean(const nlohmann::json& a) {
  double s = 0;
  for (double v : a) s += v;
  return s / static_cast<double>(a.size());
}
}  // namespace

class TestGuiViews : public QObject {
  Q_OBJECT
  std::unique_ptr<MainWindow> window_;
  std::unique_ptr<RunStore> store_;

 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("skvq-test");
    QSettings().remove("window");  // no layout left by an earlier run of these tests
    QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built");
    const QString db = test::copy_of_fixture_db("gui-views");
    window_ = std::make_unique<MainWindow>();
    window_->setQuiet(true);
    QVERIFY(window_->openDatabase(db));
    window_->show();
    store_ = std::make_unique<RunStore>(db.toStdString());
  }

  void runBrowserListsFiltersAndExports() {
    RunBrowser* b = window_->runBrowser();
    const auto runs = store_->list_runs();
    QCOMPARE(b->visibleRows(), static_cast<int>(runs.size()));
    QCOMPARE(b->models()->topLevelItemCount(), 1);
    QVERIFY(b->models()->topLevelItem(0)->childCount() >= 1);  // the calibration
    b->setKindFilter("needle");
    QCOMPARE(b->visibleRows(), 2);
    b->setKindFilter("ppl");
    b->setConfigFilter("k4-v4");
    QCOMPARE(b->visibleRows(), 1);
    const QString csv = QDir::temp().filePath("skvq-gui-export.csv");
    QVERIFY(b->exportTo(csv, false));
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines[0].startsWith("id,kind,model,config"));
    QVERIFY(lines[1].contains("k4-v4-g16-sink4-fp8"));
    b->setConfigFilter("");
    b->setKindFilter("");
    // Sorting by id descending puts the newest run first.
    b->table()->sortByColumn(0, Qt::DescendingOrder);
    QCOMPARE(b->table()->model()->index(0, 0).data().toLongLong(), static_cast<qlonglong>(runs.front().id > runs.back().id ? runs.front().id : runs.back().id));
  }

  void runDetailsActionsAndSideBySideComparison() {
    RunBrowser* b = window_->runBrowser();
    b->setKindFilter("ppl");
    b->table()->sortByColumn(0, Qt::AscendingOrder);
    b->table()->clearSelection();
    QVERIFY(!b->button("open")->isEnabled());
    QVERIFY(b->button("compare")->toolTip().contains("two runs"));
    b->table()->selectRow(0);
    const auto one = b->selectedRuns(false);
    QCOMPARE(one.size(), size_t{1});
    QVERIFY(b->button("open")->isEnabled());
    QVERIFY(!b->button("compare")->isEnabled());
    // The details pane shows the run's metrics formatted, not raw JSON.
    const QString details = b->details()->toPlainText();
    QVERIFY2(details.contains(QString("Run %1").arg(one[0].id)), qPrintable(details));
    QVERIFY2(details.contains(format_value(one[0].metrics["ppl"])), qPrintable(details));
    QVERIFY(details.contains("ctx_len"));
    QVERIFY(!details.contains("{\""));
    b->table()->selectionModel()->select(b->table()->model()->index(1, 0),
                                         QItemSelectionModel::Select | QItemSelectionModel::Rows);
    const auto two = b->selectedRuns(false);
    QCOMPARE(two.size(), size_t{2});
    QVERIFY(b->button("compare")->isEnabled());
    // Compare two of a kind without its own view: fields side by side, B - A for numbers.
    window_->compareRuns(two[0], two[1]);
    auto* dialog = window_->findChild<QDialog*>("runComparison");
    QVERIFY(dialog);
    auto* table = dialog->findChild<QTableWidget*>("comparisonTable");
    bool found = false;
    for (int r = 0; r < table->rowCount(); ++r)
      if (table->item(r, 0)->text() == "metrics.ppl") {
        found = true;
        QCOMPARE(table->item(r, 3)->text().toDouble(),
                 QString::number(two[1].metrics["ppl"].get<double>() - two[0].metrics["ppl"].get<double>(), 'g', 6).toDouble());
        QVERIFY(table->item(r, 0)->font().bold());
      }
    QVERIFY(found);
    dialog->close();
    b->setKindFilter("");
  }

  void firstStartShowsWhatToDo() {
    QVERIFY(!window_->showsEmptyState());  // the fixture store has runs
    const QString dir = QString::fromStdString(test::temp_dir("gui-empty-store"));
    MainWindow w;
    w.setQuiet(true);
    QVERIFY(w.openDatabase(QDir(dir).filePath("new.sqlite")));
    QVERIFY(w.showsEmptyState());
    const QString checks = w.emptyState()->checkText();
    QVERIFY2(checks.contains("stories260K.bin"), qPrintable(checks));
    QVERIFY2(checks.contains("SmolLM2-135M-Instruct"), qPrintable(checks));
    QVERIFY(w.calibrateAction()->isEnabled());
    QVERIFY(w.openDatabase(test::gui_fixture().db, true));
    QVERIFY(!w.showsEmptyState());
    QVERIFY(!w.calibrateAction()->isEnabled());  // read-only: the reason is its tooltip
    QVERIFY(w.calibrateAction()->toolTip().contains("read-only"));
  }

  void outlierViewShowsChannelsAndErrors() {
    const RunRecord analyze = firstRun(*store_, "analyze");
    QVERIFY(analyze.id > 0);
    OutlierView* v = window_->outlierView();
    v->showRun(analyze.id);
    auto* layer = v->findChild<QComboBox*>("layer");
    auto* tensor = v->findChild<QComboBox*>("tensor");
    auto* order = v->findChild<QComboBox*>("order");
    QCOMPARE(layer->count(), 5);
    for (int l : {0, 3}) {
      layer->setCurrentIndex(l);
      tensor->setCurrentIndex(1);
      const auto ch = store_->item(analyze.id, "channels/layer" + std::to_string(l))->data["v"];
      const double lo = *std::min_element(ch["min"].begin(), ch["min"].end());
      const double hi = *std::max_element(ch["absmax"].begin(), ch["absmax"].end());
      QCOMPARE(v->channelPlot()->dataLow(), lo);
      QVERIFY(v->channelPlot()->dataHigh() >= hi);
      order->setCurrentIndex(1);
      QCOMPARE(v->channelPlot()->displayOrder()[0], ch["perm"][0].get<int>());
      order->setCurrentIndex(0);
      QCOMPARE(v->channelPlot()->displayOrder()[1], 1);
      const auto err = store_->item(analyze.id, "group_error/layer" + std::to_string(l))->data["v"];
      QCOMPARE(v->errorPlot()->seriesCount(), 3);
      QCOMPARE(v->errorPlot()->seriesValues(0)[0], err["plain"][0].get<double>());
      QCOMPARE(v->errorPlot()->seriesValues(2).size(), static_cast<qsizetype>(err["reorder_clip"].size()));
    }
  }

  void localityViewShowsMassAndReactsToControls() {
    const RunRecord analyze = firstRun(*store_, "analyze");
    LocalityView* v = window_->localityView();
    v->showRun(analyze.id);
    auto* layer = v->findChild<QComboBox*>("layer");
    auto* sink = v->findChild<QComboBox*>("sink");
    auto* window = v->findChild<QComboBox*>("window");
    QCOMPARE(layer->count(), 5);
    layer->setCurrentIndex(2);
    const auto item = store_->item(analyze.id, "locality/layer2")->data;
    QCOMPARE(v->heatmap()->rows(), static_cast<int>(item["mass"].size()));
    QCOMPARE(v->heatmap()->value(1, 0), item["mass"][1][0].get<double>());
    QCOMPARE(v->sinkPlot()->curveCount(), 5);
    QVERIFY(sink->count() >= 2 && window->count() >= 2);
    sink->setCurrentIndex(1);
    window->setCurrentIndex(window->count() - 1);
    QCOMPARE(v->selectedSinkMass(), mean(item["sink_mass"][sink->currentText().toStdString()]));
    QCOMPARE(v->selectedWindowMass(), mean(item["window_mass"][window->currentText().toStdString()]));
    QCOMPARE(v->sinkPlot()->curveY(2)[1], mean(item["sink_mass"][sink->itemText(1).toStdString()]));
    const double before = v->heatmap()->value(0, 0);
    layer->setCurrentIndex(4);
    QCOMPARE(v->heatmap()->value(0, 0), store_->item(analyze.id, "locality/layer4")->data["mass"][0][0].get<double>());
    QVERIFY(v->heatmap()->value(0, 0) != before);
  }

  void needleViewShowsGridsAndDifference() {
    RunFilter f;
    f.kind = "needle";
    const auto runs = store_->list_runs(f);
    QCOMPARE(runs.size(), size_t{2});
    NeedleView* v = window_->needleView();
    v->showRuns(runs[0].id, runs[1].id);
    QCOMPARE(v->heatmapA()->rows(), 3);
    QCOMPARE(v->heatmapA()->cols(), 2);
    QCOMPARE(v->heatmapA()->colLabels(), QStringList({"256", "384"}));
    const auto a = store_->item(runs[0].id, "L384_D50.0")->data;
    const auto b = store_->item(runs[1].id, "L384_D50.0")->data;
    QCOMPARE(v->heatmapA()->value(1, 1), a["rougeL_f"].get<double>());
    QCOMPARE(v->heatmapDiff()->value(1, 1), b["rougeL_f"].get<double>() - a["rougeL_f"].get<double>());
    QVERIFY(v->heatmapA()->cellToolTip(1, 1).contains(QString::fromStdString(a["response"]).left(20)));
    v->findChild<QComboBox*>("metric")->setCurrentIndex(2);  // contains
    QCOMPARE(v->heatmapA()->value(1, 1), a["contains"].get<double>());
  }

  void comparisonShowsPplRunsAndEvaluatesNewConfig() {
    ComparisonView* v = window_->comparisonView();
    v->refresh();
    RunFilter f;
    f.kind = "ppl";
    const auto runs = store_->list_runs(f);
    QCOMPARE(v->settingsBox()->count(), 1);  // the fixture's runs share one setting
    QCOMPARE(v->table()->rowCount(), static_cast<int>(runs.size()));
    QCOMPARE(v->pplPlot()->curveY(0).size(), static_cast<qsizetype>(runs.size()));
    const RunRecord fp = firstRun(*store_, "ppl", "fp16");
    QVERIFY(v->pplPlot()->curveY(0).contains(fp.metrics["ppl"].get<double>()));
    QCOMPARE(v->memoryPlot()->curveCount(), static_cast<int>(runs.size()));  // every configuration
    int fpCurve = -1;
    for (int i = 0; i < v->memoryPlot()->curveCount(); ++i)
      if (v->memoryPlot()->graph(i)->name() == "fp16") fpCurve = i;
    QVERIFY(fpCurve >= 0);
    // fp16 at 64 tokens: 5 layers * 2 (K, V) * 32 channels * 2 bytes * 64 tokens.
    QCOMPARE(v->memoryPlot()->curveY(fpCurve)[0] * 1024 * 1024, 5.0 * 2 * 32 * 2 * 64);
    for (const auto& row : v->rows())  // dPPL against the fixture's fp16 run
      QCOMPARE(row.delta_ppl, row.ppl - fp.metrics["ppl"].get<double>());
    // A configuration at other settings (2 chunks, not 4): a group of its own, without a baseline.
    v->findChild<QLineEdit*>("configEdit")->setText("k3-v3-g16-sink4-fp8");
    v->findChild<QSpinBox*>("maxChunks")->setValue(2);
    QSignalSpy added(v, &ComparisonView::runAdded);
    QVERIFY(v->evaluate());
    QVERIFY(window_->jobStatus()->cancelEnabled());
    QVERIFY(added.wait(300000));
    QTRY_VERIFY_WITH_TIMEOUT(!window_->jobRunner()->isBusy(), 10000);
    const auto stored = store_->get_run(added.first().first().toLongLong());
    QVERIFY(stored.has_value());
    QCOMPARE(stored->config, std::string("k3-v3-g16-sink4-fp8"));
    QVERIFY(stored->metrics["ppl"].get<double>() > 1.0);
    QVERIFY(window_->jobStatus()->text().contains("done"));
    QCOMPARE(v->settingsBox()->count(), 2);
    QCOMPARE(v->table()->rowCount(), 1);
    QCOMPARE(v->selectedRun(), stored->id);
    QVERIFY(!v->baselineButton()->isHidden());
    QVERIFY(std::isnan(v->rows()[0].delta_ppl));
    // The offered baseline runs with the group's settings and fills dPPL in.
    added.clear();
    QVERIFY(v->evaluateBaseline());
    QVERIFY(added.wait(300000));
    QTRY_VERIFY_WITH_TIMEOUT(!window_->jobRunner()->isBusy(), 10000);
    QCOMPARE(v->table()->rowCount(), 2);
    QVERIFY(v->baselineButton()->isHidden());
    const auto base = store_->get_run(added.first().first().toLongLong());
    QVERIFY(base.has_value());
    QCOMPARE(base->config, std::string("fp16"));
    QCOMPARE(base->params["max_chunks"].get<int>(), 2);
    QCOMPARE(v->rows()[0].delta_ppl, stored->metrics["ppl"].get<double>() - base->metrics["ppl"].get<double>());
  }

  void mergedStoreOpensLikeAnyOther() {
    // skvq runs merge output (schema 3, run_sources rows): the browser lists every done run.
    const QString merged = QDir(QString::fromStdString(test::temp_dir("gui-merged"))).filePath("merged.sqlite");
    int64_t done = 0;
    for (const auto& r : store_->list_runs()) done += r.status == "done";
    try {
      RunStore out(merged.toStdString());
      const MergeSummary s = out.merge_from({store_->path()});  // the store the window shows
      QCOMPARE(s.runs_added, done);
      QVERIFY(s.conflicts.empty());
    } catch (const std::exception& e) {  // a failure, not an abort of the whole test binary
      QFAIL(e.what());
    }
    {
      MainWindow w;
      w.setQuiet(true);
      QVERIFY2(w.openDatabase(merged), qPrintable(w.lastError()));
      QCOMPARE(w.runBrowser()->visibleRows(), static_cast<int>(done));
    }
    QDir(QFileInfo(merged).absolutePath()).removeRecursively();
  }

  void badConfigurationReportsError() {
    ComparisonView* v = window_->comparisonView();
    v->findChild<QLineEdit*>("configEdit")->setText("k9-v2-g16");
    QSignalSpy errors(v, &ComparisonView::errorOccurred);
    QVERIFY(v->evaluate());
    QVERIFY(errors.wait(60000));
    QVERIFY2(errors.first().at(1).toString().contains("k9"), qPrintable(errors.first().at(1).toString()));
  }

  void badDatabaseNamesTheFile() {
    const QString bogus = QDir::temp().filePath("skvq-gui-not-a-db.sqlite");
    QFile f(bogus);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("this is not an SQLite database, just text. ................................................");
    f.close();
    MainWindow w;
    w.setQuiet(true);
    QVERIFY(!w.openDatabase(bogus));
    QVERIFY2(w.lastError().contains(bogus), qPrintable(w.lastError()));
  }

  // A store whose runs pages are overwritten (its first page, the schema, intact): the window
  // reports the error and keeps working (skvq-studio used to abort on an uncaught StoreError).
  void corruptRunPagesAreReportedAndTheWindowStaysUsable() {
    const QString good = test::copy_of_fixture_db("gui-corrupt-good");
    const QString bad = test::copy_of_fixture_db("gui-corrupt");
    int64_t root = 0, pageSize = 0;
    {
      sqlite3* db = nullptr;
      QCOMPARE(sqlite3_open(bad.toUtf8().constData(), &db), SQLITE_OK);
      sqlite3_stmt* st = nullptr;
      QCOMPARE(sqlite3_prepare_v2(db, "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'runs'", -1, &st, nullptr), SQLITE_OK);
      QCOMPARE(sqlite3_step(st), SQLITE_ROW);
      root = sqlite3_column_int64(st, 0);
      pageSize = sqlite3_column_int64(st, 1);
      sqlite3_finalize(st);
      sqlite3_close(db);
    }
    QVERIFY(root > 1 && pageSize > 0);
    QVERIFY(!QFile::exists(bad + "-wal"));
    {
      std::fstream f(bad.toStdString(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp((root - 1) * pageSize);
      const std::string junk(static_cast<size_t>(pageSize), '\x5A');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    MainWindow w;
    w.setQuiet(true);
    QVERIFY(w.openDatabase(good));
    const int rows = w.runBrowser()->visibleRows();
    QVERIFY(rows > 0);
    QVERIFY(!w.openDatabase(bad));
    QVERIFY2(w.lastError().contains(bad), qPrintable(w.lastError()));
    QVERIFY2(w.lastError().contains("corrupt"), qPrintable(w.lastError()));
    // Still the good store, still usable.
    w.refreshAll();
    QCOMPARE(w.runBrowser()->visibleRows(), rows);
    QVERIFY(w.openDatabase(good));

    // A browser handed the corrupt store directly reports instead of throwing.
    RunStore corrupt(bad.toStdString());
    RunBrowser browser;
    QSignalSpy errors(&browser, &RunBrowser::errorOccurred);
    browser.setStore(&corrupt);
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.first().at(1).toString().contains("corrupt"), qPrintable(errors.first().at(1).toString()));
    QCOMPARE(browser.visibleRows(), 0);
  }

  // Opened read-only (File > Open run store read-only), a store is browsed like any other, its
  // file is never written (same bytes, nothing in a -wal), and a job that would store a run is refused.
  void readOnlyStoreIsBrowsedAndNeverWritten() {
    const QString db = test::copy_of_fixture_db("gui-read-only");
    auto bytes = [&db] {
      QFile f(db);
      if (!f.open(QIODevice::ReadOnly)) return QByteArray();
      return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
    };
    const QByteArray before = bytes();
    QVERIFY(!before.isEmpty());
    MainWindow w;
    w.setQuiet(true);
    QVERIFY(w.openDatabase(db, true));
    QVERIFY(w.store()->read_only());
    QVERIFY2(w.windowTitle().contains("read-only"), qPrintable(w.windowTitle()));
    MainWindow writable;  // the same fixture opened for writing lists the same runs
    writable.setQuiet(true);
    QVERIFY(writable.openDatabase(test::copy_of_fixture_db("gui-read-only-writable")));
    QVERIFY(writable.runBrowser()->visibleRows() > 0);
    QCOMPARE(w.runBrowser()->visibleRows(), writable.runBrowser()->visibleRows());
    w.refreshAll();
    QSignalSpy errors(w.comparisonView(), &ComparisonView::errorOccurred);
    QVERIFY(!w.comparisonView()->evaluate());
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.first().at(1).toString().contains("read-only"), qPrintable(errors.first().at(1).toString()));
    w.showCalibrationWizard();
    QVERIFY2(w.lastError().contains("read-only") && w.lastError().contains(db), qPrintable(w.lastError()));
    // SQLite may create an empty -wal beside a WAL-mode store even for a read-only connection
    // (it needs the -shm index); no frame is ever written to it.
    QCOMPARE(QFileInfo(db + "-wal").exists() ? QFileInfo(db + "-wal").size() : 0, qint64(0));
    QCOMPARE(bytes(), before);
    // The same file opened normally is writable again.
    QVERIFY(w.openDatabase(db));
    QVERIFY(!w.store()->read_only());
  }
};

QTEST_MAIN(TestGuiViews)
#include "test_gui_views.moc"
