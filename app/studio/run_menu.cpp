#include "run_menu.h"

#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>

#include "batch_form.h"
#include "job_runner.h"
#include "locality_form.h"
#include "locality_view.h"
#include "longbench_form.h"
#include "main_window.h"
#include "memory_planner.h"
#include "needle_form.h"
#include "run_browser.h"
#include "studio_settings.h"

namespace skvq::studio {

namespace {

// The model the forms start with: the newest model of the store, else the demo model.
QString default_model(MainWindow& w) {
  try {
    if (RunStore* s = w.store()) {
      const auto models = s->list_models();
      if (!models.empty()) return QString::fromStdString(models.back().path);
    }
  } catch (const std::exception&) {  // the browser reports a store it cannot read
  }
  const QString demo = QDir(StudioSettings().dataDir()).filePath(QStringLiteral("models/stories260K/stories260K.bin"));
  return QFileInfo::exists(demo) ? demo : QString();
}

template <class Form, class Make>
Form* form_of(MainWindow& w, const char* name, Make make) {
  auto* form = w.findChild<Form*>(QString::fromLatin1(name), Qt::FindDirectChildrenOnly);
  if (!form) {
    form = make();
    form->setObjectName(QString::fromLatin1(name));
    form->setModelPath(default_model(w));
    QObject::connect(form, &RunForm::runsStored, &w, [&w](const QList<qint64>& ids) { show_stored_runs(w, ids); });
  }
  RunStore* store = w.store();
  form->setStorePath(store ? QString::fromStdString(store->path()) : QString(), store && store->read_only());
  return form;
}

void raise_dock_of(MainWindow& w, QWidget* view) { w.raiseView(view); }

void show_form(QDialog* form) {
  form->show();
  form->raise();
  form->activateWindow();
}

}  // namespace

NeedleForm* needle_form(MainWindow& w) {
  return form_of<NeedleForm>(w, "needleForm", [&w] { return new NeedleForm(w.jobRunner(), &w); });
}

LocalityForm* locality_form(MainWindow& w) {
  return form_of<LocalityForm>(w, "localityForm", [&w] {
    auto* f = new LocalityForm(w.jobRunner(), &w);
    f->setDataDir(StudioSettings().dataDir());
    return f;
  });
}

LongBenchForm* longbench_form(MainWindow& w) {
  return form_of<LongBenchForm>(w, "longbenchForm", [&w] {
    auto* f = new LongBenchForm(w.jobRunner(), &w);
    f->setDataDir(StudioSettings().dataDir());
    return f;
  });
}

BatchForm* batch_form(MainWindow& w) {
  return form_of<BatchForm>(w, "batchForm", [&w] { return new BatchForm(w.jobRunner(), &w); });
}

MemoryPlanner* memory_planner(MainWindow& w) {
  return form_of<MemoryPlanner>(w, "memoryPlanner", [&w] { return new MemoryPlanner(&w); });
}

void show_stored_runs(MainWindow& w, const QList<qint64>& ids) {
  w.refreshAll();
  if (ids.isEmpty() || !w.store()) return;
  std::optional<RunRecord> last, first;
  try {
    last = w.store()->get_run(ids.back());
    first = w.store()->get_run(ids.front());
  } catch (const std::exception& e) {
    w.showError(QObject::tr("Open run"), QString::fromStdString(e.what()));
    return;
  }
  w.runBrowser()->selectRun(ids.back());
  if (!last) return;
  if (last->kind == "needle" && first && ids.size() > 1) {
    w.compareRuns(*first, *last);
  } else if (last->kind == "analyze") {
    w.openRun(*last);
    raise_dock_of(w, w.localityView());
  } else if (last->kind != "longbench") {
    w.openRun(*last);
  }
}

void add_run_menu(MainWindow& w) {
  QMenu* run = w.menuBar()->addMenu(QObject::tr("&Run"));
  run->setObjectName("runMenu");
  run->addAction(QObject::tr("&Needle-in-a-haystack grid..."), &w, [&w] { show_form(needle_form(w)); });
  run->addAction(QObject::tr("Attention &locality analysis..."), &w, [&w] { show_form(locality_form(w)); });
  run->addAction(QObject::tr("Long&Bench tasks..."), &w, [&w] { show_form(longbench_form(w)); });
  run->addAction(QObject::tr("&Batch job file..."), &w, [&w] { show_form(batch_form(w)); });
  run->addSeparator();
  run->addAction(QObject::tr("&Memory planner..."), &w, [&w] { show_form(memory_planner(w)); });
}

}  // namespace skvq::studio
