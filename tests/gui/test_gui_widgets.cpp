// Widgets on their own: heatmap cells/colours/tooltips, channel-range plot ordering and
// boundaries from a real calibration item, runs table model and filter over a real store.
#include <QtTest/QtTest>
#include <cmath>

#include "channel_range_plot.h"
#include "colour_scale.h"
#include "gui_fixture.h"
#include "heatmap_widget.h"
#include "runs_filter_proxy.h"
#include "runs_table_model.h"
#include "skvq/run_store.h"

using namespace skvq;

class TestGuiWidgets : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built"); }

  void heatmapCellsColoursAndTooltips() {
    gui::HeatmapWidget map;
    map.resize(500, 300);
    map.setGrid({"0%", "100%"}, {"64", "128", "256"}, {0.0, 0.5, 1.0, 1.0, std::nan(""), 0.25},
                {"a", "b", "c", "d", "", "f"});
    map.setRange(0, 1);
    map.setTitles("t", "length", "depth");
    QCOMPARE(map.rows(), 2);
    QCOMPARE(map.cols(), 3);
    QCOMPARE(map.value(0, 1), 0.5);
    QVERIFY(std::isnan(map.value(1, 1)));
    QCOMPARE(map.cellColour(0, 0), gui::sequential_colour(0));
    QCOMPARE(map.cellColour(0, 2), gui::sequential_colour(1));
    const QRect cell = map.cellRect(1, 2);
    QCOMPARE(map.cellAt(cell.center()), QPoint(2, 1));
    const QString tip = map.toolTipAt(cell.center());
    QVERIFY2(tip.contains("depth = 100%") && tip.contains("length = 256") && tip.contains("0.25") && tip.endsWith("f"),
             qPrintable(tip));
    QVERIFY(map.toolTipAt(QPoint(1, 1)).isEmpty());
    QVERIFY(!map.grab().isNull());
  }

  void channelPlotFollowsCalibrationOrder() {
    RunStore store(test::gui_fixture().db.toStdString());
    RunFilter f;
    f.kind = "analyze";
    const auto runs = store.list_runs(f);
    QVERIFY(!runs.empty());
    const auto item = store.item(runs.front().id, "channels/layer0");
    QVERIFY(item.has_value());
    const auto& k = item->data["k"];
    gui::ChannelRanges r;
    for (double v : k["min"]) r.min << v;
    for (double v : k["max"]) r.max << v;
    for (double v : k["absmax"]) r.absmax << v;
    for (int v : k["labels"]) r.labels << v;
    for (int v : k["perm"]) r.perm << v;
    for (int v : k["offsets"]) r.offsets << v;
    r.group_size = item->data["group_size"];
    gui::ChannelRangePlot plot;
    plot.setChannels(r, false);
    QCOMPARE(plot.displayOrder().size(), r.min.size());
    QCOMPARE(plot.displayOrder()[5], 5);
    QCOMPARE(plot.boundaries().size(), r.min.size() / r.group_size - 1);
    const double lo = *std::min_element(r.min.begin(), r.min.end());
    QCOMPARE(plot.dataLow(), lo);
    QVERIFY(plot.yAxis->range().lower < lo && plot.yAxis->range().upper > plot.dataHigh() - 1e-9);
    plot.setChannels(r, true);
    QCOMPARE(plot.displayOrder(), r.perm);
    QCOMPARE(plot.boundaries().size(), r.offsets.size() - 2);
    QCOMPARE(plot.boundaries().front(), r.offsets[1]);
  }

  void runsTableModelAndFilter() {
    RunStore store(test::gui_fixture().db.toStdString());
    const auto runs = store.list_runs();
    QHash<qint64, QString> names;
    for (const auto& m : store.list_models()) names[m.id] = QString::fromStdString(m.name);
    gui::RunsTableModel model;
    model.setRuns(runs, names);
    QCOMPARE(model.rowCount(), static_cast<int>(runs.size()));
    int ppl = 0;
    for (const auto& r : runs) ppl += r.kind == "ppl";
    QVERIFY(ppl >= 4);
    gui::RunsFilterProxy proxy;
    proxy.setSourceModel(&model);
    proxy.setKind("ppl");
    QCOMPARE(proxy.rowCount(), ppl);
    proxy.setConfigText("REORDER");
    QCOMPARE(proxy.rowCount(), 1);
    const QModelIndex cfg = proxy.index(0, gui::RunsTableModel::Config);
    QCOMPARE(cfg.data().toString(), QString("k2-v2-g16-reorder-clip-sink4-fp8"));
    const QString result = proxy.index(0, gui::RunsTableModel::Result).data().toString();
    QVERIFY2(result.startsWith("ppl "), qPrintable(result));
    proxy.setConfigText("");
    proxy.setKind("");
    proxy.setModelName("stories260K");
    QCOMPARE(proxy.rowCount(), static_cast<int>(runs.size()));
    proxy.setModelName("no such model");
    QCOMPARE(proxy.rowCount(), 0);
  }
};

QTEST_MAIN(TestGuiWidgets)
#include "test_gui_widgets.moc"
