// The Run menu's forms on the demo model (stories260K): each shows a bad configuration string or
// a missing file inline under its field and starts nothing; a valid form runs its job through
// the window's JobRunner, stores a run of its kind, selects it in the run browser and the view
// shows it. The memory planner's table is checked against hand-computed accounting.
#include <QtTest/QtTest>
#include <QComboBox>
#include <QLineEdit>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QDoubleSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <cmath>
#include <fstream>

#include "batch_form.h"
#include "comparison_view.h"
#include "curve_plot.h"
#include "gui_fixture.h"
#include "heatmap_widget.h"
#include "job_runner.h"
#include "locality_form.h"
#include "locality_view.h"
#include "longbench_form.h"
#include "main_window.h"
#include "memory_planner.h"
#include "needle_form.h"
#include "needle_view.h"
#include "run_browser.h"
#include "run_menu.h"
#include "test_util.h"

using namespace skvq;
using namespace skvq::studio;

namespace {
void setText(QWidget* form, const char* field, const QString& text) {
  auto* edit = form->findChild<QLineEdit*>(field);
  QVERIFY2(edit, field);
  edit->setText(text);
}
QString model() { return QString::fromStdString(test::stories_model()); }
QString writeFile(const QString& path, const std::string& text) {
  std::ofstream(path.toStdString()) << text;
  return path;
}
// The run selected in the browser.
qint64 selectedRun(MainWindow& w) {
  const auto runs = w.runBrowser()->selectedRuns(false);
  return runs.size() == 1 ? runs.front().id : -1;
}
}  // namespace

class TestGuiForms : public QObject {
  Q_OBJECT
  std::unique_ptr<MainWindow> window_;
  std::unique_ptr<RunStore> store_;
  QString dir_;

  // Launches a valid form and waits for its runs; empty on failure (the form's status is printed).
  QList<qint64> runForm(RunForm* form) {
    QSignalSpy stored(form, &RunForm::runsStored);
    if (!form->launch()) {
      qWarning("launch refused: %s", qPrintable(form->statusText()));
      return {};
    }
    if (!window_->jobRunner()->isBusy()) return {};
    if (!stored.wait(600000)) {
      qWarning("no runs stored: %s", qPrintable(form->statusText()));
      return {};
    }
    return stored.first().first().value<QList<qint64>>();
  }

 private Q_SLOTS:
  void initTestCase() {
    QCoreApplication::setOrganizationName("skvq-test");
    QVERIFY2(!test::gui_fixture().db.isEmpty(), "fixture run store could not be built");
    const QString db = test::copy_of_fixture_db("gui-forms");
    dir_ = QFileInfo(db).absolutePath();
    window_ = std::make_unique<MainWindow>();
    window_->setQuiet(true);
    QVERIFY(window_->openDatabase(db));
    window_->show();
    store_ = std::make_unique<RunStore>(db.toStdString());
  }

  void runMenuOffersEveryForm() {
    QMenu* run = window_->menuBar()->findChild<QMenu*>("runMenu");
    QVERIFY(run);
    QStringList texts;
    for (QAction* a : run->actions())
      if (!a->isSeparator()) texts << a->text().remove('&');
    QCOMPARE(texts, QStringList({"Needle-in-a-haystack grid...", "Attention locality analysis...",
                                 "LongBench tasks...", "Batch job file...", "Memory planner..."}));
    // The forms start with the store's model.
    QCOMPARE(needle_form(*window_)->findChild<QLineEdit*>("model")->text(), model());
  }

  // A bad configuration string and a missing file are shown under their fields; nothing starts.
  void badFieldsShowInlineErrorsAndStartNothing() {
    const int runsBefore = static_cast<int>(store_->list_runs().size());
    std::vector<RunForm*> forms{needle_form(*window_), locality_form(*window_), longbench_form(*window_),
                                memory_planner(*window_)};
    for (RunForm* f : forms) {
      setText(f, "model", "/nonexistent/model.bin");
      setText(f, f->findChild<QLineEdit*>("configs") ? "configs" : "config", "k2-v2-g16, k9-v2-g16");
      QVERIFY(!f->launch());
      QVERIFY2(f->fieldError("model").contains("/nonexistent/model.bin: no such file"), qPrintable(f->objectName()));
      const QString configError = f->fieldError(f->findChild<QLineEdit*>("configs") ? "configs" : "config");
      QVERIFY2(configError.contains("k9") && configError.contains("bits"), qPrintable(configError));
      QVERIFY(!window_->jobRunner()->isBusy());
      // Fixed fields clear their error; a group size the model's 32 K/V channels do not divide is
      // caught with the model known.
      setText(f, "model", model());
      setText(f, f->findChild<QLineEdit*>("configs") ? "configs" : "config", "k2-v2-g24");
      QVERIFY(!f->launch());
      QCOMPARE(f->fieldError("model"), QString());
      QVERIFY2(f->fieldError(f->findChild<QLineEdit*>("configs") ? "configs" : "config").contains("g24"),
               qPrintable(f->fieldError(f->findChild<QLineEdit*>("configs") ? "configs" : "config")));
    }
    // Form-specific fields.
    NeedleForm* needle = needle_form(*window_);
    setText(needle, "configs", "k2-v2-g16-reorder-sink4");
    setText(needle, "lengths", "256,x");
    setText(needle, "depths", "50,120");
    QVERIFY(!needle->launch());
    QVERIFY(needle->fieldError("calibration").contains("calibration"));
    QVERIFY(needle->fieldError("lengths").contains("'x'"));
    QVERIFY(needle->fieldError("depths").contains("'120'"));
    LongBenchForm* lb = longbench_form(*window_);
    setText(lb, "data", dir_ + "/missing.jsonl");
    QVERIFY(!lb->launch());
    QVERIFY2(lb->fieldError("data").contains("missing.jsonl: no such file"), qPrintable(lb->fieldError("data")));
    LocalityForm* loc = locality_form(*window_);
    setText(loc, "text", dir_ + "/missing.txt");
    QVERIFY(!loc->launch());
    QVERIFY(loc->fieldError("text").contains("missing.txt"));
    BatchForm* batch = batch_form(*window_);
    setText(batch, "jobFile", dir_ + "/missing-job.json");
    QVERIFY(!batch->launch());
    QVERIFY(batch->fieldError("jobFile").contains("missing-job.json: no such file"));
    const QString job = writeFile(dir_ + "/bad-job.json",
                                  nlohmann::json({{"model", test::stories_model()},
                                                  {"ppl", {{"text", test::data("text/tinystories/tinystories_val.txt")}, {"ctx_len", 64}}},
                                                  {"configs", {"fp16", "k9-v2-g16"}}}).dump());
    setText(batch, "jobFile", job);
    QVERIFY(!batch->launch());
    QVERIFY2(batch->fieldError("jobFile").contains("k9"), qPrintable(batch->fieldError("jobFile")));
    QVERIFY(!window_->jobRunner()->isBusy());
    QCOMPARE(static_cast<int>(store_->list_runs().size()), runsBefore);
  }

  // A store opened read-only is never written: a valid form refuses to start and says why.
  void readOnlyStoreRefusesTheJob() {
    const QString db = test::copy_of_fixture_db("gui-forms-read-only");
    MainWindow w;
    w.setQuiet(true);
    QVERIFY(w.openDatabase(db, true));
    NeedleForm* f = needle_form(w);
    setText(f, "configs", "k4-v4-g16-sink4-fp8");
    QVERIFY(f->validate());
    QVERIFY(!f->launch());
    QVERIFY(!w.jobRunner()->isBusy());
    QVERIFY2(f->statusText().contains("read-only") && f->statusText().contains(db), qPrintable(f->statusText()));
    QDir(QFileInfo(db).absolutePath()).removeRecursively();
  }

  void needleFormRunsGridAndOpensIt() {
    NeedleForm* f = needle_form(*window_);
    setText(f, "model", model());
    setText(f, "calibration", "");
    setText(f, "configs", "k4-v4-g16-sink4-fp8");
    setText(f, "lengths", "256");
    setText(f, "depths", "50");
    f->findChild<QSpinBox*>("maxNewTokens")->setValue(8);
    const QList<qint64> ids = runForm(f);
    QCOMPARE(ids.size(), 2);  // the unquantized reference first
    const auto ref = store_->get_run(ids[0]);
    const auto run = store_->get_run(ids[1]);
    QVERIFY(ref && run);
    QCOMPARE(ref->config, std::string("fp16"));
    QCOMPARE(run->kind, std::string("needle"));
    QCOMPARE(run->config, std::string("k4-v4-g16-sink4-fp8"));
    QCOMPARE(run->status, std::string("done"));
    QCOMPARE(run->metrics["cells"].get<int>(), 1);
    QCOMPARE(run->params["max_new_tokens"].get<int>(), 8);
    // The view shows reference and quantized grid side by side.
    NeedleView* v = window_->needleView();
    QCOMPARE(v->heatmapA()->rows(), 1);
    QCOMPARE(v->heatmapA()->cols(), 1);
    QCOMPARE(v->heatmapA()->value(0, 0), store_->item(ids[0], "L256_D50.0")->data["rougeL_f"].get<double>());
    QCOMPARE(v->heatmapB()->value(0, 0), store_->item(ids[1], "L256_D50.0")->data["rougeL_f"].get<double>());
    QCOMPARE(selectedRun(*window_), ids[1]);
    QVERIFY(f->statusText().contains(QString::number(ids[1])));
  }

  // Cancel (the form's button, set before the worker gets past loading the model) ends the job
  // with no finished run and the form says so.
  void cancelEndsTheJobWithoutADoneRun() {
    NeedleForm* f = needle_form(*window_);
    setText(f, "configs", "k3-v3-g16-sink4");
    setText(f, "lengths", "256,384");
    setText(f, "depths", "0,25,50,75,100");
    QSignalSpy idle(window_->jobRunner(), &JobRunner::idle);
    QSignalSpy stored(f, &RunForm::runsStored);
    QVERIFY(f->launch());
    auto* cancel = f->findChild<QPushButton*>("cancel");
    QVERIFY(cancel->isEnabled());
    cancel->click();
    QVERIFY(idle.wait(120000));
    QCOMPARE(stored.count(), 0);
    QVERIFY2(f->statusText().startsWith("Cancelled"), qPrintable(f->statusText()));
    QVERIFY(!cancel->isEnabled());
    for (const RunRecord& r : store_->list_runs())
      QVERIFY2(!(r.config == "k3-v3-g16-sink4" && r.status == "done"), r.status.c_str());
  }

  void localityFormRunsAnalysisAndOpensIt() {
    LocalityForm* f = locality_form(*window_);
    setText(f, "model", model());
    setText(f, "text", QString::fromStdString(test::data("text/tinystories/tinystories_val.txt")));
    setText(f, "config", "k2-v2-g16-sink4-fp8");
    setText(f, "sinks", "1,4");
    setText(f, "windows", "8,16,32");
    f->findChild<QSpinBox*>("maxTokens")->setValue(96);
    const QList<qint64> ids = runForm(f);
    QCOMPARE(ids.size(), 1);
    const auto run = store_->get_run(ids[0]);
    QVERIFY(run);
    QCOMPARE(run->kind, std::string("analyze"));
    QCOMPARE(run->params["tokens"].get<int>(), 96);
    QCOMPARE(run->params["sinks"], nlohmann::json({1, 4}));
    LocalityView* v = window_->localityView();
    QCOMPARE(v->findChild<QComboBox*>("source")->currentData().toLongLong(), ids[0]);
    QCOMPARE(v->findChild<QComboBox*>("layer")->count(), 5);
    QCOMPARE(v->findChild<QComboBox*>("window")->count(), 3);
    v->findChild<QComboBox*>("layer")->setCurrentIndex(1);
    const auto item = store_->item(ids[0], "locality/layer1")->data;
    QCOMPARE(v->heatmap()->rows(), 8);  // heads
    QCOMPARE(v->heatmap()->value(3, 0), item["mass"][3][0].get<double>());
    QCOMPARE(selectedRun(*window_), ids[0]);
  }

  void longbenchFormRunsTaskAndShowsScores() {
    std::string ctx;
    for (int i = 0; i < 40; ++i) ctx += "Tom had a red ball. ";
    nlohmann::json a = {{"input", "What did Tom have?"}, {"context", ctx}, {"answers", {"a red ball"}},
                        {"length", 200}, {"dataset", "multifieldqa_en"}, {"all_classes", nullptr}};
    nlohmann::json b = a;
    b["input"] = "What color was the ball?";
    const QString data = writeFile(dir_ + "/mf.jsonl", a.dump() + "\n" + b.dump() + "\n");
    LongBenchForm* f = longbench_form(*window_);
    setText(f, "model", model());
    setText(f, "data", data);
    setText(f, "configs", "k4-v4-g16-sink4-fp8");
    f->findChild<QSpinBox*>("maxSamples")->setValue(1);
    f->findChild<QSpinBox*>("maxPromptTokens")->setValue(128);
    const QList<qint64> ids = runForm(f);
    QCOMPARE(ids.size(), 1);
    const auto run = store_->get_run(ids[0]);
    QVERIFY(run);
    QCOMPARE(run->kind, std::string("longbench"));
    QCOMPARE(run->status, std::string("done"));
    QCOMPARE(run->params["max_prompt_tokens"].get<int>(), 128);
    QCOMPARE(store_->items(ids[0]).size(), size_t{1});  // one sample per task
    const auto& task = run->metrics["tasks"]["multifieldqa_en"];
    QCOMPARE(task["samples"].get<int>(), 1);
    QTableWidget* t = f->scores();
    QCOMPARE(t->rowCount(), 1);
    QCOMPARE(t->item(0, 2)->text(), QString("multifieldqa_en"));
    QCOMPARE(t->item(0, 4)->text(), QString::number(task["score"].get<double>(), 'f', 2));
    // 100 x the stored sample score (LongBench's scale).
    QCOMPARE(task["score"].get<double>(), 100.0 * store_->items(ids[0]).front().data["score"].get<double>());
    QCOMPARE(selectedRun(*window_), ids[0]);
  }

  void batchFormRunsJobFileIntoTheStore() {
    const QString job = writeFile(dir_ + "/job.json",
                                  nlohmann::json({{"model", test::stories_model()},
                                                  {"ppl", {{"text", test::data("text/tinystories/tinystories_val.txt")},
                                                           {"ctx_len", 64}, {"max_bytes", 20000}, {"max_chunks", 2}}},
                                                  {"configs", {"fp16", "k3-v3-g8-sink4"}}}).dump());
    BatchForm* f = batch_form(*window_);
    setText(f, "jobFile", job);
    QVERIFY(f->validate());
    QVERIFY2(f->log()->toPlainText().contains("k3-v3-g8-sink4"), qPrintable(f->log()->toPlainText()));  // the plan
    const QList<qint64> ids = runForm(f);
    QCOMPARE(ids.size(), 2);
    for (qint64 id : ids) {
      const auto run = store_->get_run(id);
      QVERIFY(run);
      QCOMPARE(run->kind, std::string("ppl"));
      QCOMPARE(run->params["ctx_len"].get<int>(), 64);
      QVERIFY(run->metrics["ppl"].get<double>() > 1.0);
    }
    QCOMPARE(store_->get_run(ids[1])->config, std::string("k3-v3-g8-sink4"));
    QVERIFY(f->log()->toPlainText().contains("runs stored in"));
    // The comparison view shows the new runs' settings group (ctx 64, 2 chunks): just these two.
    QCOMPARE(window_->comparisonView()->table()->rowCount(), 2);
    QCOMPARE(window_->comparisonView()->selectedRun(), ids[1]);
    QCOMPARE(selectedRun(*window_), ids[1]);
  }

  // stories260K: 5 layers, 4 KV heads of head_dim 8 (32 K/V channels), dim 64, hidden 172,
  // vocab 512, tied embeddings.
  void memoryPlannerMatchesHandAccounting() {
    MemoryPlanner* m = memory_planner(*window_);
    setText(m, "model", model());
    setText(m, "configs", "fp16, k2-v2-g16, k2-v2-g16-fp8");
    m->findChild<QSpinBox*>("ctx")->setValue(512);
    m->findChild<QDoubleSpinBox*>("budgetGib")->setValue(0.001);
    QVERIFY(m->launch());
    QTableWidget* t = m->table();
    QCOMPARE(t->rowCount(), 3);
    auto cell = [t](int row, int col) { return t->item(row, col)->data(Qt::DisplayRole).toDouble(); };
    const double fp16 = 2.0 * 5 * 4 * 8 * 2;                  // bytes * layers * kv_heads * head_dim * (K, V)
    const double k2 = 5 * 2 * (32 * 2 / 8.0 + 2 * (2 + 2));   // codes + 2 groups x (fp16 scale + zero)
    const double k2fp8 = 5 * 2 * (32 * 2 / 8.0 + 2 * (1 + 1));  // fp8 scale and zero
    QCOMPARE(fp16, 640.0);
    QCOMPARE(cell(0, MemoryPlanner::BytesPerToken), fp16);
    QCOMPARE(cell(1, MemoryPlanner::BytesPerToken), k2);
    QCOMPARE(cell(2, MemoryPlanner::BytesPerToken), k2fp8);
    QCOMPARE(cell(1, MemoryPlanner::BitsK), 2.0 + 32.0 / 16);
    QCOMPARE(cell(1, MemoryPlanner::Compression), 4.0);
    QCOMPARE(cell(0, MemoryPlanner::CacheAtCtx), fp16 * 512 / (1024.0 * 1024.0));
    // Longest context next to the float16 weights: 2 bytes x (embeddings 512*64 + 5 layers x
    // (q, o 64*64; k, v 64*32; gate, up, down 64*172; two norms 64) + final norm 64).
    const double params = 512 * 64 + 5 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172 + 2 * 64) + 64;
    const double left = 0.001 * 1024 * 1024 * 1024 - 2 * params;
    QCOMPARE(cell(0, MemoryPlanner::MaxContext), std::floor(left / fp16));
    QCOMPARE(cell(2, MemoryPlanner::MaxContext), std::floor(left / k2fp8));
    // The plot: one curve per configuration plus the budget line, MiB at 64 tokens first.
    QCOMPARE(m->plot()->curveCount(), 4);
    QCOMPARE(m->plot()->curveX(0)[0], 64.0);
    QCOMPARE(m->plot()->curveY(0)[0], fp16 * 64 / (1024.0 * 1024.0));
    QCOMPARE(m->plot()->curveY(3)[0], left / (1024.0 * 1024.0));
    // A GGUF file is read from its metadata (SmolLM2-135M: 30 layers, 3 KV heads, head_dim 64).
    if (!QFileInfo::exists(QString::fromStdString(test::smollm2_model()))) {
      if (test::models_required()) QFAIL("SmolLM2 GGUF missing (scripts/fetch-models.sh)");
      QSKIP("SmolLM2 GGUF missing");
    }
    setText(m, "model", QString::fromStdString(test::smollm2_model()));
    setText(m, "configs", "fp16");
    QVERIFY(m->launch());
    QCOMPARE(cell(0, MemoryPlanner::BytesPerToken), 2.0 * 30 * 3 * 64 * 2);
    // Its 256 MiB of float16 weights do not fit the 0.001 GiB budget: no context, no budget line.
    QCOMPARE(cell(0, MemoryPlanner::MaxContext), 0.0);
    QCOMPARE(m->plot()->curveCount(), 1);
    QVERIFY2(m->statusText().contains("do not fit"), qPrintable(m->statusText()));
  }

  // Every form fits a 1280x720 screen at its preferred size with the main window at that size
  // (checked under Xvfb too); with SKVQ_SCREENSHOT_DIR set each is saved there as PNG.
  void formsFitA1280x720Screen() {
    window_->resize(1280, 720);
    const QString shots = qEnvironmentVariable("SKVQ_SCREENSHOT_DIR");
    std::vector<RunForm*> forms{needle_form(*window_), locality_form(*window_), longbench_form(*window_),
                                batch_form(*window_), memory_planner(*window_)};
    for (RunForm* f : forms) {
      f->show();
      QVERIFY(QTest::qWaitForWindowExposed(f));
      QVERIFY2(f->minimumSizeHint().width() <= 1280 && f->minimumSizeHint().height() <= 720, qPrintable(f->objectName()));
      QVERIFY2(f->width() <= 1280 && f->height() <= 720, qPrintable(f->objectName()));
      QVERIFY2(f->width() >= f->minimumSizeHint().width() && f->height() >= f->minimumSizeHint().height(),
               qPrintable(QStringLiteral("%1 is %2x%3, needs %4x%5").arg(f->objectName()).arg(f->width()).arg(f->height())
                              .arg(f->minimumSizeHint().width()).arg(f->minimumSizeHint().height())));
      if (!shots.isEmpty()) QVERIFY(f->grab().save(QDir(shots).filePath(f->objectName() + ".png")));
      f->hide();
    }
    // The needle form with inline errors still fits.
    NeedleForm* needle = needle_form(*window_);
    setText(needle, "configs", "k9-v2-g16-reorder");
    setText(needle, "haystack", "/nonexistent/essays");
    needle->show();
    QVERIFY(QTest::qWaitForWindowExposed(needle));
    QVERIFY(!needle->launch());
    QVERIFY(needle->height() <= 720);
    if (!shots.isEmpty()) QVERIFY(needle->grab().save(QDir(shots).filePath("needleFormErrors.png")));
    needle->hide();
    if (!shots.isEmpty()) QVERIFY(!window_->saveScreenshots(shots).isEmpty());
  }

  void cleanupTestCase() {
    window_.reset();
    store_.reset();
    QDir(dir_).removeRecursively();
  }
};

QTEST_MAIN(TestGuiForms)
#include "test_gui_forms.moc"
