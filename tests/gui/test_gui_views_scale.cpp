// Issue 12, views that scale: the Outliers overview (all layers x channels), the per-layer
// error plot, the locality view's measured-window markers and colour scale, the needle view's
// score vs context length and swap A/B, and the export menus, on the fixture's stories260K runs
// (5 layers x 32 K/V channels, group size 16).
#include <QtTest/QtTest>
#include <QCheckBox>
#include <QComboBox>
#include <QPushButton>
#include <cmath>
#include <fstream>

#include "channel_map_plot.h"
#include "channel_range_plot.h"
#include "curve_plot.h"
#include "engine.h"
#include "grouped_bar_plot.h"
#include "gui_fixture.h"
#include "heatmap_widget.h"
#include "locality_view.h"
#include "needle_view.h"
#include "outlier_view.h"
#include "skvq/run_store.h"

using namespace skvq;
using namespace skvq::studio;

namespace {
/// CSV records (RFC 4180: a newline inside quotes belongs to the field).
QStringList csv_records(const QString& csv) {
  QStringList out{QString()};
  bool quoted = false;
  for (QChar ch : csv) {
    if (ch == '"') quoted = !quoted;
    if (ch == '\n' && !quoted) out << QString();
    else out.back() += ch;
  }
  if (out.back().isEmpty()) out.removeLast();
  return out;
}
double mean(const nlohmann::json& a) {
  double s = 0;
  for (double v : a) s += v;
  return s / static_cast<double>(a.size());
}
}  // namespace

class TestGuiViewsScale : public QObject {
  Q_OBJECT
  std::unique_ptr<RunStore> store_;
  qint64 analyze_ = 0;

  nlohmann::json item(qint64 run, const std::string& key) { return store_->item(run, key)->data; }
  // One channel statistic (min, max, absmax) in the fixture's calibration file (what `skvq
  // calibrate` wrote).
  static double calibration_stat(int layer, const char* tensor, const char* stat, int channel) {
    std::ifstream in(test::gui_fixture().calibration.toStdString());
    return nlohmann::json::parse(in)["layers"][layer][tensor][stat][channel].get<double>();
  }
  static double calibration_absmax(int layer, const char* tensor, int channel) {
    return calibration_stat(layer, tensor, "absmax", channel);
  }
  QComboBox* box(QWidget* v, const char* name) { return v->findChild<QComboBox*>(name); }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built");
    store_ = std::make_unique<RunStore>(test::copy_of_fixture_db("gui-views-scale").toStdString());
    RunFilter f;
    f.kind = "analyze";
    const auto runs = store_->list_runs(f);
    QCOMPARE(runs.size(), size_t{1});
    analyze_ = runs[0].id;
  }

  void overviewCellsAreTheStoredAbsmaxOfEveryLayer() {
    OutlierView v;
    v.resize(1280, 720);
    v.setStore(store_.get());
    v.showRun(analyze_);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    box(&v, "order")->setCurrentIndex(0);  // original order
    gui::ChannelMapPlot* map = v.overviewMap();
    for (const char* t : {"k", "v"}) {
      box(&v, "tensor")->setCurrentIndex(t[0] == 'k' ? 0 : 1);
      QCOMPARE(map->rows(), 5);
      QCOMPARE(map->cols(), 32);
      for (int l = 0; l < 5; ++l) {
        const auto absmax = item(analyze_, "channels/layer" + std::to_string(l))[t]["absmax"];
        for (int c = 0; c < 32; ++c) QCOMPARE(map->value(l, c), absmax[c].get<double>());
      }
    }
    // Against the calibration file the analyze run was given (layer 2 K, channels 3 and 11). Not
    // literals: the file comes from a float32 forward pass whose last bits depend on the kernels.
    box(&v, "tensor")->setCurrentIndex(0);
    const double k23 = calibration_absmax(2, "k", 3);
    QVERIFY(k23 > 1.0);
    QCOMPARE(map->value(2, 3), k23);
    QCOMPARE(map->value(2, 11), calibration_absmax(2, "k", 11));
    QVERIFY(map->cellToolTip(2, 3).contains(QString::number(k23, 'g', 6)));
    QVERIFY(map->cellToolTip(2, 3).contains(QStringLiteral("run %1").arg(analyze_)));
    map->replot();
    QCOMPARE(map->cellAt(map->pixelOf(2, 3)), QPoint(3, 2));
    // Range: max - min of layer 2 V channel 5 in the calibration file.
    box(&v, "tensor")->setCurrentIndex(1);
    box(&v, "overviewStat")->setCurrentIndex(1);
    QCOMPARE(map->value(2, 5), calibration_stat(2, "v", "max", 5) - calibration_stat(2, "v", "min", 5));
    QVERIFY(map->valueLabel().contains("range"));
    // Clicking a row selects that layer for the per-layer plots.
    QTest::mouseClick(map, Qt::LeftButton, {}, map->pixelOf(3, 0));
    QCOMPARE(box(&v, "layer")->currentIndex(), 3);
  }

  void reorderedColumnIsOriginalColumnPermAndBoundariesAreOffsets() {
    OutlierView v;
    v.setStore(store_.get());
    v.showRun(analyze_);
    gui::ChannelMapPlot* map = v.overviewMap();
    for (int t = 0; t < 2; ++t) {
      box(&v, "tensor")->setCurrentIndex(t);
      box(&v, "order")->setCurrentIndex(0);
      QVector<QVector<double>> original(5);
      for (int l = 0; l < 5; ++l)
        for (int c = 0; c < 32; ++c) original[l] << map->value(l, c);
      QVERIFY(map->boundaries()[0] == QVector<int>{16});  // contiguous groups of 16
      box(&v, "order")->setCurrentIndex(1);
      for (int l = 0; l < 5; ++l) {
        const auto ch = item(analyze_, "channels/layer" + std::to_string(l))[t == 0 ? "k" : "v"];
        for (int j = 0; j < 32; ++j) {
          const int p = ch["perm"][j].get<int>();
          QCOMPARE(map->value(l, j), original[l][p]);
          QCOMPARE(map->channelAt(l, j), p);
        }
        QVector<int> inner;
        for (size_t i = 1; i + 1 < ch["offsets"].size(); ++i) inner << ch["offsets"][i].get<int>();
        QCOMPARE(map->boundaries()[l], inner);
      }
    }
    // Layer 2 K: position 1 is channel 3 (perm [0, 3, 4, ...]), one boundary at 17 (offsets [0, 17, 32]).
    box(&v, "tensor")->setCurrentIndex(0);
    QCOMPARE(map->value(2, 1), calibration_absmax(2, "k", 3));
    QCOMPARE(map->boundaries()[2], QVector<int>{17});
    QVERIFY(map->cellToolTip(2, 1).contains("channel 3 (position 1)"));
  }

  void calibrationOverviewMatchesTheCalibrationFile() {
    std::ifstream in(test::gui_fixture().calibration.toStdString());
    const nlohmann::json file = nlohmann::json::parse(in);
    OutlierView v;
    v.showCalibration(load_calibration(test::gui_fixture().calibration.toStdString()), "fixture");
    box(&v, "order")->setCurrentIndex(0);
    box(&v, "tensor")->setCurrentIndex(1);
    QCOMPARE(v.overviewMap()->rows(), static_cast<int>(file["layers"].size()));
    for (int l : {0, 4})
      for (int c : {0, 17, 31})
        QCOMPARE(v.overviewMap()->value(l, c), file["layers"][l]["v"]["absmax"][c].get<double>());
    // No analyze run: no error curves, and the title says what is needed.
    QCOMPARE(v.layerErrorPlot()->curveCount(), 0);
  }

  void layerErrorPlotHasOnePointPerLayerEqualToTheStoredMeans() {
    OutlierView v;
    v.resize(1280, 720);
    v.setStore(store_.get());
    v.showRun(analyze_);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    gui::CurvePlot* p = v.layerErrorPlot();
    p->replot();
    QCOMPARE(p->curveCount(), 6);  // K and V x plain, reorder, reorder + clip
    const char* variants[] = {"plain", "reorder", "reorder_clip"};
    for (int t = 0; t < 2; ++t)
      for (int s = 0; s < 3; ++s) {
        const int curve = t * 3 + s;
        QCOMPARE(p->curveX(curve), QVector<double>({0, 1, 2, 3, 4}));
        for (int l = 0; l < 5; ++l) {
          const auto e = item(analyze_, "group_error/layer" + std::to_string(l))[t == 0 ? "k" : "v"];
          QCOMPARE(p->curveY(curve)[l], mean(e[variants[s]]));
        }
      }
    // Layer 2 K plain: the mean of its two groups' stored errors (32 channels, g16).
    const auto plain2 = item(analyze_, "group_error/layer2")["k"]["plain"];
    QCOMPARE(plain2.size(), size_t{2});
    QCOMPARE(p->curveY(0)[2], (plain2[0].get<double>() + plain2[1].get<double>()) / 2);
    const QString tip = p->toolTipAt(p->pixelOf(0, 2));
    QVERIFY2(tip.contains(QStringLiteral("run %1").arg(analyze_)), qPrintable(tip));
  }

  void channelPlotHasClusterLegendTooltipsAndCsv() {
    OutlierView v;
    v.resize(1280, 720);
    v.setStore(store_.get());
    v.showRun(analyze_);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    box(&v, "layer")->setCurrentIndex(2);
    box(&v, "tensor")->setCurrentIndex(0);
    box(&v, "order")->setCurrentIndex(1);
    gui::ChannelRangePlot* p = v.channelPlot();
    p->replot();
    // Two clusters at group size 16 (labels 0/1) plus absmax, in a legend beside the axes.
    QCOMPARE(p->legend->itemCount(), 3);
    auto* first = qobject_cast<QCPPlottableLegendItem*>(p->legend->item(0));
    QVERIFY(first && first->plottable()->name() == "cluster 0");
    QVERIFY(p->legend->outerRect().left() >= p->axisRect()->outerRect().right());
    const int x = static_cast<int>(p->xAxis->coordToPixel(1));
    const int y = static_cast<int>(p->yAxis->coordToPixel(0));
    const QString tip = p->toolTipAt(QPoint(x, y));
    QVERIFY2(tip.contains("position 1: channel 3") &&
                 tip.contains("absmax " + QString::number(calibration_absmax(2, "k", 3), 'g', 6)),
             qPrintable(tip));
    const QStringList lines = p->csv().split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 33);
    QVERIFY(lines[2].startsWith("1,3,"));
  }

  void localityMarksTheMeasuredWindowsAndFixesTheScale() {
    LocalityView v;
    v.resize(1280, 720);
    v.setStore(store_.get());
    v.showRun(analyze_);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    box(&v, "layer")->setCurrentIndex(2);
    QCOMPARE(v.windowMarkers(), QVector<double>({16, 32, 64, 128}));  // params "windows"
    QCOMPARE(v.sinkMarkers(), QVector<double>({1, 5, 10}));          // params "sinks"
    auto ticker = v.windowPlot()->xAxis->ticker().dynamicCast<QCPAxisTickerText>();
    QVERIFY(ticker);
    const QList<double> ticks = ticker->ticks().keys();
    QCOMPARE(QVector<double>(ticks.begin(), ticks.end()), v.windowMarkers());
    box(&v, "window")->setCurrentIndex(2);
    QCOMPARE(v.selectedWindowMarker(), 64.0);
    QCOMPARE(v.windowPlot()->itemCount(), 1);
    // Legends outside the axes.
    for (gui::CurvePlot* p : {v.sinkPlot(), v.windowPlot()}) {
      p->replot();
      QVERIFY(p->legend->outerRect().left() >= p->axisRect()->outerRect().right());
    }
    // Colour scale: this layer's maximum, or the maximum over all layers when fixed.
    double layerMax = 0, allMax = 0;
    for (int l = 0; l < 5; ++l) {
      const nlohmann::json it = item(analyze_, "locality/layer" + std::to_string(l));
      for (const auto& head : it["mass"])
        for (double m : head) {
          allMax = std::max(allMax, m);
          if (l == 2) layerMax = std::max(layerMax, m);
        }
    }
    QCOMPARE(v.heatmap()->rangeHigh(), layerMax);
    QVERIFY(v.heatmap()->colourBarLabel().contains("attention mass"));
    v.findChild<QCheckBox*>("fixedScale")->setChecked(true);
    QCOMPARE(v.heatmap()->rangeHigh(), allMax);
    box(&v, "layer")->setCurrentIndex(4);
    QCOMPARE(v.heatmap()->rangeHigh(), allMax);  // layer 3's 0.6077, not layer 4's own 0.2794
    QVERIFY(allMax > 0.6 && layerMax < 0.44);
    v.findChild<QCheckBox*>("fixedScale")->setChecked(false);
    QVERIFY(v.heatmap()->rangeHigh() < 0.28);
  }

  void needleScoreVsLengthIsTheMeanOverDepthsAndSwapSwaps() {
    RunFilter f;
    f.kind = "needle";
    const auto runs = store_->list_runs(f);
    QCOMPARE(runs.size(), size_t{2});
    NeedleView v;
    v.setStore(store_.get());
    v.showRuns(runs[0].id, runs[1].id);
    gui::CurvePlot* p = v.lengthPlot();
    v.resize(1280, 720);
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    p->replot();
    QCOMPARE(p->curveCount(), 2);
    for (int r = 0; r < 2; ++r) {
      QCOMPARE(p->curveX(r), QVector<double>({256, 384}));
      QCOMPARE(p->curveIds(r), QVector<qint64>(2, runs[r].id));
      for (int i = 0; i < 2; ++i) {
        const std::string L = i == 0 ? "256" : "384";
        const double m = (item(runs[r].id, "L" + L + "_D0.0")["rougeL_f"].get<double>() +
                          item(runs[r].id, "L" + L + "_D50.0")["rougeL_f"].get<double>() +
                          item(runs[r].id, "L" + L + "_D100.0")["rougeL_f"].get<double>()) / 3;
        QVERIFY(std::abs(p->curveY(r)[i] - m) <= 1e-15);
      }
    }
    QVERIFY(v.heatmapA()->colourBarLabel() == "ROUGE-L F1" && v.heatmapA()->title().contains("ROUGE-L F1"));
    QVERIFY(v.heatmapDiff()->colourBarLabel().contains("ROUGE-L F1"));
    QVERIFY(p->toolTipAt(p->pixelOf(1, 0)).contains(QStringLiteral("run %1").arg(runs[1].id)));
    // Swap A/B: the grids (values and answers) and the curves trade places.
    QVector<double> a, b;
    QStringList tipsB;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 2; ++c) {
        a << v.heatmapA()->value(r, c);
        b << v.heatmapB()->value(r, c);
        tipsB << v.heatmapB()->cellToolTip(r, c);
      }
    const QVector<double> curveB = p->curveY(1);
    QVERIFY(a != b);
    v.findChild<QPushButton*>("swapAB")->click();
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 2; ++c) {
        QCOMPARE(v.heatmapA()->value(r, c), b[r * 2 + c]);
        QCOMPARE(v.heatmapB()->value(r, c), a[r * 2 + c]);
        QCOMPARE(v.heatmapA()->cellToolTip(r, c), tipsB[r * 2 + c]);
      }
    QCOMPARE(p->curveY(0), curveB);
    QCOMPARE(p->curveIds(0)[0], runs[1].id);
    QCOMPARE(v.heatmapDiff()->value(1, 1), a[3] - b[3]);
  }

  void heatmapExportsCsvAndPngAndZooms() {
    NeedleView v;
    v.resize(1280, 720);
    v.setStore(store_.get());
    v.show();
    QVERIFY(QTest::qWaitForWindowExposed(&v));
    gui::HeatmapWidget* h = v.heatmapA();
    QCOMPARE(h->contextMenuPolicy(), Qt::CustomContextMenu);
    const QStringList lines = csv_records(h->csv());  // answers hold newlines, quoted
    QCOMPARE(lines.size(), 1 + 3 * 2);
    QVERIFY(lines[0].startsWith("needle depth,context length (tokens),value"));
    QVERIFY(lines[4].startsWith(QStringLiteral("50%,384,%1,").arg(h->value(1, 1), 0, 'g', 10)));
    const QString png = QDir::temp().filePath("skvq-heatmap-export.png");
    QFile::remove(png);
    h->savePng(png);
    QImage image(png);
    QCOMPARE(image.size(), h->size() * h->devicePixelRatio());
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, h->savePng("/nonexistent-dir/x.png"));
    // Zoom in on the cell (row 1, column 1): the view halves and the cell under a pixel is
    // still the one drawn there.
    const int widthBefore = h->cellRect(1, 1).width();
    h->zoom(0.5, QPointF(1.5, 1.5));
    QCOMPARE(h->view().width(), 1.0);
    QCOMPARE(h->view().height(), 1.5);
    const QRect cell = h->cellRect(1, 1);
    QCOMPARE(h->cellAt(cell.center()), QPoint(1, 1));
    QVERIFY(std::abs(cell.width() - 2 * widthBefore) <= 2);  // one column fills the grid
    h->resetView();
    QCOMPARE(h->view(), QRectF(0, 0, 2, 3));
    // Every plot of the three views has the export menu.
    OutlierView o;
    LocalityView l;
    for (QWidget* view : std::initializer_list<QWidget*>{&v, &o, &l}) {
      const auto plots = view->findChildren<QCustomPlot*>();
      QVERIFY(plots.size() + view->findChildren<gui::HeatmapWidget*>().size() >= 3);
      for (QCustomPlot* plot : plots) QCOMPARE(plot->contextMenuPolicy(), Qt::CustomContextMenu);
      for (gui::HeatmapWidget* map : view->findChildren<gui::HeatmapWidget*>())
        QCOMPARE(map->contextMenuPolicy(), Qt::CustomContextMenu);
    }
  }
};

QTEST_MAIN(TestGuiViewsScale)
#include "test_gui_views_scale.moc"
