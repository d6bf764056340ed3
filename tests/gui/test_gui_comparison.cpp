// The comparison dashboard: the Pareto frontier, the same-settings grouping with dPPL against
// each system's own baseline, peer rows (imported as `skvq runs import` does) on the plots,
// click-to-select both ways, and plot export. Real stories260K runs from the GUI fixture.
#include <QtTest/QtTest>
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <cmath>
#include <fstream>

#include "comparison_rows.h"
#include "comparison_view.h"
#include "curve_plot.h"
#include "grouped_bar_plot.h"
#include "gui_fixture.h"
#include "pareto.h"
#include "plot_export.h"
#include "skvq/peers.h"
#include "test_util.h"

using namespace skvq;
using namespace skvq::studio;

namespace {

RunRecord run(int64_t id, const std::string& kind, const std::string& config, double ppl, double bits, int ctx,
              const std::string& system = "") {
  RunRecord r;
  r.id = id;
  r.kind = kind;
  r.config = config;
  r.data_path = "/data/wiki.txt";
  r.data_sha256 = std::string(64, 'a');
  r.params = {{"ctx_len", ctx}};
  if (!system.empty()) r.params["system"] = system;
  r.metrics = {{"ppl", ppl}, {"bits_k", bits}, {"bits_v", bits}, {"tokens", 8 * (ctx - 1)}, {"kv_bytes_per_token", bits * 100}};
  return r;
}

int curveNamed(gui::CurvePlot* p, const QString& prefix) {
  for (int i = 0; i < p->curveCount(); ++i)
    if (p->graph(i)->name().startsWith(prefix)) return i;
  return -1;
}

}  // namespace

class TestGuiComparison : public QObject {
  Q_OBJECT
  std::unique_ptr<ComparisonView> view_;
  std::unique_ptr<RunStore> store_;

 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("skvq-test-comparison");
    QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built");
  }

  void paretoFrontierByHand() {
    // Sorted by (x, y): (1,20) i4, (2,10) i0, (2,10) i5 (same point: dropped), (3,8) i1,
    // (3,9) i2 (dominated by i1), (4,8) i3 (dominated by i1: equal y, more bits); i6 has NaN.
    const QVector<double> x{2, 3, 3, 4, 1, 2, std::nan("")};
    const QVector<double> y{10, 8, 9, 8, 20, 10, 1};
    QCOMPARE(gui::pareto_frontier(x, y), (QVector<int>{4, 0, 1}));
    QCOMPARE(gui::pareto_frontier({}, {}), QVector<int>{});
    QCOMPARE(gui::pareto_frontier({5}, {7}), QVector<int>{0});
  }

  void groupsBySettingsAndMeasuresEachSystemAgainstItsOwnBaseline() {
    const std::vector<RunRecord> runs{
        run(1, "ppl", "fp16", 10.0, 16, 1024), run(2, "ppl", "k2-v2-g32-rtn", 12.5, 3, 1024),
        run(3, "peer", "f16", 10.2, 16, 1024, "llama.cpp"), run(4, "peer", "q4_0", 10.7, 4.5, 1024, "llama.cpp"),
        run(5, "ppl", "k2-v2-g32-rtn", 30.0, 3, 256)};
    const auto groups = settings_groups(runs);
    QCOMPARE(groups.size(), size_t{2});
    QCOMPARE(groups[0].count, 4);  // the ctx 1024 group, largest first
    QCOMPARE(groups[1].count, 1);
    QVERIFY(QString::fromStdString(groups[0].label).contains("ctx 1024"));
    QVERIFY(QString::fromStdString(groups[0].label).contains("8184 tokens"));
    const auto rows = comparison_rows(runs, groups[0].key);
    QCOMPARE(rows.size(), size_t{4});
    QCOMPARE(rows[0].delta_ppl, 0.0);
    QCOMPARE(rows[1].delta_ppl, 12.5 - 10.0);
    QCOMPARE(rows[2].delta_ppl, 0.0);           // llama.cpp f16 against itself
    QCOMPARE(rows[3].delta_ppl, 10.7 - 10.2);   // q4_0 against llama.cpp's f16, not ours
    QVERIFY(rows[3].peer && rows[3].system == "llama.cpp");
    QCOMPARE(rows[3].bits(), 4.5);
    const auto lone = comparison_rows(runs, groups[1].key);
    QCOMPARE(lone.size(), size_t{1});
    QVERIFY(!lone[0].has_baseline);
    QVERIFY(std::isnan(lone[0].delta_ppl));
    RunRecord other = runs[1];
    other.params["protocol"] = "llama.cpp";  // another protocol: not comparable
    QVERIFY(settings_key(other) != settings_key(runs[1]));
  }

  void peersOnTheDashboardAndSelectionBothWays() {
    const QString db = test::copy_of_fixture_db("gui-comparison-peers");
    store_ = std::make_unique<RunStore>(db.toStdString());
    RunFilter f;
    f.kind = "ppl";
    const auto ours = store_->list_runs(f);
    QVERIFY(ours.size() >= 4);
    const RunRecord& fp = ours[0];
    QCOMPARE(fp.config, std::string("fp16"));
    // Peer rows measured on the fixture's text and settings (protocol left out: the reference one).
    const nlohmann::json common = {{"version", "b1"}, {"model", fp.data_path}, {"text", fp.data_path},
                                   {"model_sha256", store_->list_models()[0].sha256},
                                   {"text_sha256", fp.data_sha256}, {"ctx_len", fp.params["ctx_len"]},
                                   {"tokens", fp.metrics["tokens"]}};
    nlohmann::json rows = nlohmann::json::array();
    for (auto [cfg, ppl, bits, bytes] : {std::tuple{"f16", 1.5, 16.0, 1280.0}, std::tuple{"q4_0", 1.0, 4.5, 360.0}}) {
      nlohmann::json row = common;
      row.update({{"system", "llama.cpp"}, {"config", cfg}, {"ppl", fp.metrics["ppl"].get<double>() * ppl},
                  {"bits_k", bits}, {"bits_v", bits}, {"kv_bytes_per_token", bytes}});
      rows.push_back(row);
    }
    const std::string peers = QDir(QFileInfo(db).absolutePath()).filePath("peers.json").toStdString();
    std::ofstream(peers) << rows.dump();
    const auto imported = import_peers(*store_, peers);
    QCOMPARE(imported.run_ids.size(), size_t{2});

    view_ = std::make_unique<ComparisonView>();
    view_->resize(1400, 900);
    view_->show();
    view_->setStore(store_.get());
    QVERIFY(QTest::qWaitForWindowExposed(view_.get()));
    QCOMPARE(view_->settingsBox()->count(), 1);
    QCOMPARE(view_->table()->rowCount(), static_cast<int>(ours.size()) + 2);
    // dPPL of the peer q4_0 row is against llama.cpp's f16 row: (1.0 - 1.5) * fp.
    const ComparisonRow& q4 = view_->rows().back();
    QCOMPARE(q4.config, std::string("q4_0"));
    QVERIFY(std::abs(q4.delta_ppl - (-0.5 * fp.metrics["ppl"].get<double>())) < 1e-9);

    gui::CurvePlot* p = view_->pplPlot();
    const int peerCurve = curveNamed(p, "llama.cpp");
    const int ourCurve = curveNamed(p, "SKVQ Studio");
    const int frontier = curveNamed(p, "Pareto");
    QVERIFY(peerCurve >= 0 && ourCurve >= 0 && frontier >= 0);
    QCOMPARE(p->curveX(peerCurve), (QVector<double>{4.5, 16.0}));
    QCOMPARE(p->graph(peerCurve)->scatterStyle().shape(), QCPScatterStyle::ssDiamond);
    QCOMPARE(p->curveX(ourCurve).size(), static_cast<qsizetype>(ours.size()));
    // The frontier is exactly the rows no other row dominates (brute force).
    QSet<qint64> expected;
    for (const auto& a : view_->rows()) {
      bool dominated = false;
      for (const auto& b : view_->rows())
        dominated = dominated || (b.bits() <= a.bits() && b.ppl <= a.ppl && (b.bits() < a.bits() || b.ppl < a.ppl));
      if (!dominated) expected.insert(a.run_id);
    }
    const QVector<qint64> onFrontier = p->curveIds(frontier);
    QCOMPARE(QSet<qint64>(onFrontier.begin(), onFrontier.end()), expected);
    QVERIFY(expected.contains(imported.run_ids[1]));  // q4_0 at fp16's PPL and 4.5 bits

    // Click a peer point: its run is selected in the table; select a row: the plots mark it.
    p->replot();
    const QPoint at = p->pixelOf(peerCurve, 0);
    QVERIFY(p->toolTipAt(at).contains("q4_0"));
    QVERIFY(p->toolTipAt(at).contains(QString("run %1").arg(imported.run_ids[1])));
    QTest::mouseClick(p, Qt::LeftButton, {}, at);
    QCOMPARE(view_->selectedRun(), imported.run_ids[1]);
    QVERIFY(view_->selectRun(fp.id));
    QCOMPARE(p->highlighted(), fp.id);
    gui::GroupedBarPlot* bars = view_->bytesPlot();
    QCOMPARE(bars->categories().size(), static_cast<qsizetype>(view_->rows().size()));
    QCOMPARE(bars->categories().last(), QString("llama.cpp: q4_0"));
    QCOMPARE(bars->seriesValues(0).last(), 360.0);
    bars->replot();
    QTest::mouseClick(bars, Qt::LeftButton, {}, bars->pixelOf(1));
    QCOMPARE(view_->selectedRun(), view_->rows()[1].run_id);

    // dPPL axis: every point's y is its row's dPPL.
    view_->yAxisBox()->setCurrentIndex(1);
    QCOMPARE(p->curveY(curveNamed(p, "llama.cpp")), (QVector<double>{q4.delta_ppl, 0.0}));
    view_->yAxisBox()->setCurrentIndex(2);
    QCOMPARE(p->yAxis->scaleType(), QCPAxis::stLogarithmic);
    view_->yAxisBox()->setCurrentIndex(0);

    // Memory: one curve per configuration (ours and the two peers), legend outside the axes.
    gui::CurvePlot* m = view_->memoryPlot();
    QCOMPARE(m->curveCount(), static_cast<int>(view_->rows().size()));
    m->replot();
    QVERIFY(m->legend->visible());
    QVERIFY2(m->legend->outerRect().left() >= m->axisRect()->outerRect().right(), "memory legend over the data");
    const int q4mem = curveNamed(m, "llama.cpp: q4_0");
    QCOMPARE(m->curveY(q4mem)[0] * 1024 * 1024, 360.0 * 64);
    QVERIFY(view_->baselineButton()->isHidden());
  }

  void missingBaselineIsExplainedAndOffered() {
    QVERIFY(store_);
    // Drop every fp16 run: dPPL becomes "-" with the reason and a button to evaluate it.
    for (const auto& run : store_->list_runs({}))
      if (run.config == "fp16") store_->delete_run(run.id);
    view_->refresh();
    QVERIFY(!view_->baselineButton()->isHidden());
    QVERIFY(view_->baselineNote()->text().contains("no fp16 run"));
    const ComparisonRow& first = view_->rows().front();
    QVERIFY(!first.peer && !first.has_baseline);
  }

  void plotsExportPngSvgAndCsv() {
    QVERIFY(view_);
    const QString dir = QString::fromStdString(test::temp_dir("gui-plot-export"));
    gui::CurvePlot* p = view_->pplPlot();
    const QString png = QDir(dir).filePath("ppl.png"), svg = QDir(dir).filePath("ppl.svg");
    gui::save_plot(p, png);
    gui::save_plot(p, svg);
    const QImage image(png);
    QCOMPARE(image.width(), 2 * p->width());
    QFile f(svg);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray text = f.readAll();
    QVERIFY(text.contains("<svg"));
    QVERIFY(text.size() > 1000);
    try {
      gui::save_plot(p, QDir(dir).filePath("no/such/folder/ppl.png"));
      QFAIL("no error for a missing folder");
    } catch (const std::exception& e) {
      QVERIFY2(QString(e.what()).contains("no/such/folder/ppl.png"), e.what());
    }
    const QStringList csv = p->csv().trimmed().split('\n');
    int points = 0;
    for (int i = 0; i < p->curveCount(); ++i) points += static_cast<int>(p->curveX(i).size());
    QCOMPARE(csv.size(), points + 1);
    QCOMPARE(csv[0], QString("curve,x,y,run_id,label"));
    QCOMPARE(gui::csv_field("a,b\"c"), QString("\"a,b\"\"c\""));
    QCOMPARE(view_->bytesPlot()->csv().trimmed().split('\n').size(), static_cast<qsizetype>(view_->rows().size()) + 1);
  }

  void cleanupTestCase() {
    view_.reset();
    store_.reset();
  }
};

QTEST_MAIN(TestGuiComparison)
#include "test_gui_comparison.moc"
