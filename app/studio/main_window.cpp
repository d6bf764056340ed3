#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QSettings>
#include <QDialog>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QScreen>
#include <QScrollArea>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTableWidget>
#include <QVBoxLayout>

#include "calibration_wizard.h"
#include "comparison_view.h"
#include "empty_state_page.h"
#include "engine.h"
#include "job_runner.h"
#include "job_status_widget.h"
#include "locality_view.h"
#include "needle_view.h"
#include "outlier_view.h"
#include "run_browser.h"
#include "run_details.h"
#include "run_menu.h"
#include "settings_dialog.h"
#include "studio_settings.h"

namespace skvq::studio {
namespace {
// The view a dock shows (inside its scroll area).
QWidget* dock_view(const QDockWidget* d) {
  const auto* area = qobject_cast<const QScrollArea*>(d->widget());
  return area ? area->widget() : d->widget();
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("SKVQ Studio"));
  runner_ = new JobRunner(this);
  browser_ = new RunBrowser(this);
  empty_ = new EmptyStatePage(this);
  central_ = new QStackedWidget(this);
  auto* emptyScroll = new QScrollArea(this);  // never forces the window taller than the screen
  emptyScroll->setWidget(empty_);
  emptyScroll->setWidgetResizable(true);
  emptyScroll->setFrameShape(QFrame::NoFrame);
  central_->addWidget(emptyScroll);
  central_->addWidget(browser_);
  setCentralWidget(central_);
  connect(empty_, &EmptyStatePage::openStoreRequested, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open run store"), QString(),
                                                      tr("SQLite (*.sqlite *.db);;All files (*)"));
    if (!path.isEmpty()) openDatabase(path);
  });
  connect(empty_, &EmptyStatePage::calibrateRequested, this, &MainWindow::showCalibrationWizard);
  connect(empty_, &EmptyStatePage::settingsRequested, this, &MainWindow::showSettings);
  outliers_ = new OutlierView(this);
  locality_ = new LocalityView(this);
  needle_ = new NeedleView(this);
  comparison_ = new ComparisonView(this);
  comparison_->setJobRunner(runner_);
  comparison_->setDataDir(StudioSettings().dataDir());
  buildMenus();
  addView(comparison_, tr("Comparison"), "comparisonDock", Qt::BottomDockWidgetArea);
  addView(outliers_, tr("Outliers"), "outlierDock", Qt::BottomDockWidgetArea);
  addView(locality_, tr("Attention locality"), "localityDock", Qt::BottomDockWidgetArea);
  addView(needle_, tr("Needle"), "needleDock", Qt::BottomDockWidgetArea);
  for (int i = 1; i < docks_.size(); ++i) tabifyDockWidget(docks_[0], docks_[i]);
  docks_[0]->raise();
  status_ = new JobStatusWidget(runner_, this);
  statusBar()->addPermanentWidget(status_);

  connect(browser_, &RunBrowser::openRun, this, &MainWindow::openRun);
  connect(browser_, &RunBrowser::compareRuns, this, &MainWindow::compareRuns);
  connect(browser_, &RunBrowser::calibrationActivated, this, &MainWindow::openCalibrationFile);
  connect(browser_, &RunBrowser::errorOccurred, this, &MainWindow::showError);
  connect(browser_, &RunBrowser::storeChanged, this, &MainWindow::refreshAll);
  connect(comparison_, &ComparisonView::errorOccurred, this, &MainWindow::showError);
  connect(outliers_, &OutlierView::errorOccurred, this, &MainWindow::showError);
  connect(locality_, &LocalityView::errorOccurred, this, &MainWindow::showError);
  connect(needle_, &NeedleView::errorOccurred, this, &MainWindow::showError);
  connect(comparison_, &ComparisonView::runAdded, this, [this] { browser_->refresh(); });
  // 1500x950, or what the screen has room for (1280x720 laptops); a saved geometry wins.
  const QSize room = screen() ? screen()->availableGeometry().size() * 0.95 : QSize(1500, 950);
  resize(QSize(1500, 950).boundedTo(room).expandedTo(minimumSizeHint()));
  restoreWindowState();
  updateCentralPage();
}

bool MainWindow::showsEmptyState() const { return central_->currentWidget() != browser_; }

void MainWindow::updateCentralPage() {
  bool empty = true;
  try {
    empty = !store_ || (store_->list_models().empty() && store_->list_runs().empty());
  } catch (const std::exception&) {
    empty = false;  // the browser reports what it cannot read
  }
  const StudioSettings s;
  empty_->check(s.dataDir(), QString::fromStdString(skvq::models_dir()));
  central_->setCurrentIndex(empty ? 0 : 1);
  const bool writable = store_ && !store_->read_only();
  calibrate_->setEnabled(writable);
  calibrate_->setToolTip(writable ? tr("Calibrate a model and store the calibration in %1").arg(QString::fromStdString(store_->path()))
                                  : store_ ? tr("The run store is open read-only: open it with File > Open run store")
                                           : tr("Open a run store first (File > Open run store)"));
}

void MainWindow::showSettings() {
  SettingsDialog dialog(this);
  if (dialog.exec() != QDialog::Accepted) return;
  StudioSettings s;
  skvq::set_threads(s.threads());
  comparison_->setDataDir(s.dataDir());
  if (!store_ || QString::fromStdString(store_->path()) != s.databasePath()) openDatabase(s.databasePath());
  updateCentralPage();
}

void MainWindow::saveWindowState() const {
  QSettings s;
  s.setValue(QStringLiteral("window/geometry"), saveGeometry());
  s.setValue(QStringLiteral("window/state"), saveState());
}

bool MainWindow::restoreWindowState() {
  const QSettings s;
  const QByteArray geometry = s.value(QStringLiteral("window/geometry")).toByteArray();
  const QByteArray state = s.value(QStringLiteral("window/state")).toByteArray();
  const bool g = !geometry.isEmpty() && restoreGeometry(geometry);
  const bool d = !state.isEmpty() && restoreState(state);
  return g && d;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (runner_->isBusy() && !quiet_) {
    const auto answer = QMessageBox::question(this, tr("Quit"), tr("A job is running. Cancel it and quit?"),
                                              QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    if (answer != QMessageBox::Yes) {
      event->ignore();
      return;
    }
  }
  runner_->cancel();
  saveWindowState();
  event->accept();
}

QString MainWindow::aboutText() const {
  const nlohmann::json v = engine_versions();
  return tr("SKVQ Studio %1\n\nQt %2 (built with %3)\nLibTorch %4\nCUDA: %5\nSQLite %6")
      .arg(QCoreApplication::applicationVersion(), QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR),
           QString::fromStdString(v["libtorch"].get<std::string>()), QString::fromStdString(v["cuda"].get<std::string>()),
           QString::fromStdString(v["sqlite"].get<std::string>()));
}

MainWindow::~MainWindow() {
  runner_->cancel();
  runner_->wait();
}

QDockWidget* MainWindow::addView(QWidget* view, const QString& title, const QString& name,
                                 Qt::DockWidgetArea area) {
  auto* dock = new QDockWidget(title, this);
  dock->setObjectName(name);
  // In a scroll area: a view taller than the screen (1280x720) scrolls instead of forcing the
  // window's minimum height past it.
  auto* scroll = new QScrollArea(dock);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setWidget(view);
  dock->setWidget(scroll);
  addDockWidget(area, dock);
  viewMenu_->addAction(dock->toggleViewAction());
  docks_ << dock;
  return dock;
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open run store..."), QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open run store"), QString(),
                                                      tr("SQLite (*.sqlite *.db);;All files (*)"));
    if (!path.isEmpty()) openDatabase(path);
  });
  file->addAction(tr("Open run store &read-only..."), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open run store read-only"), QString(),
                                                      tr("SQLite (*.sqlite *.db);;All files (*)"));
    if (!path.isEmpty()) openDatabase(path, true);
  });
  file->addAction(tr("Open &calibration file..."), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open calibration"), QString(),
                                                      tr("Calibration (*.json);;All files (*)"));
    if (!path.isEmpty()) openCalibrationFile(path);
  });
  recent_ = file->addMenu(tr("&Recent files"));
  file->addSeparator();
  file->addAction(tr("Export runs as &CSV..."), this, [this] { browser_->exportDialog(false); });
  file->addAction(tr("Export runs as &JSON..."), this, [this] { browser_->exportDialog(true); });
  file->addSeparator();
  file->addAction(tr("&Settings..."), this, &MainWindow::showSettings);
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);  // closeEvent asks, saves state
  QMenu* tools = menuBar()->addMenu(tr("&Tools"));
  tools->setToolTipsVisible(true);
  calibrate_ = tools->addAction(tr("&Calibrate a model..."), this, &MainWindow::showCalibrationWizard);
  tools->addAction(tr("&Refresh"), QKeySequence::Refresh, this, &MainWindow::refreshAll);
  tools->addAction(tr("Cancel current &job"), QKeySequence(Qt::Key_Escape), runner_, &JobRunner::cancel);
  add_run_menu(*this);
  viewMenu_ = menuBar()->addMenu(tr("&View"));
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About SKVQ Studio"), this, [this] { QMessageBox::about(this, tr("About SKVQ Studio"), aboutText()); });
  updateRecentMenu();
}

void MainWindow::updateRecentMenu() {
  recent_->clear();
  for (const QString& path : StudioSettings().recentFiles()) {
    recent_->addAction(path, this, [this, path] {
      if (path.endsWith(QStringLiteral(".json"))) openCalibrationFile(path);
      else openDatabase(path);
    });
  }
  recent_->setEnabled(!recent_->isEmpty());
}

bool MainWindow::openDatabase(const QString& path, bool readOnly) {
  try {
    const QFileInfo file(path);
    if (!readOnly) QDir().mkpath(file.absolutePath());
    // A store this process cannot write (read-only file or directory) is opened read-only too:
    // it can be browsed, and jobs are refused (ComparisonView::evaluate, showCalibrationWizard).
    readOnly = readOnly || (file.exists() && (!file.isWritable() || !QFileInfo(file.absolutePath()).isWritable()));
    auto store = std::make_unique<RunStore>(path.toStdString(), RunStore::default_lock_timeout_ms(),
                                            readOnly ? StoreMode::ReadOnly : StoreMode::ReadWrite);
    // Read what the views show before installing the store: a corrupt page is reported here
    // and the window keeps the store it had.
    store->list_models();
    store->list_calibrations();
    store->list_runs();
    store_ = std::move(store);
  } catch (const std::exception& e) {
    showError(tr("Open run store"), QString::fromStdString(e.what()));
    return false;
  }
  StudioSettings s;
  s.setDatabasePath(path);
  s.addRecentFile(path);
  updateRecentMenu();
  setWindowTitle(store_->read_only() ? tr("SKVQ Studio - %1 (read-only)").arg(path)
                                     : tr("SKVQ Studio - %1").arg(path));
  browser_->setStore(store_.get());
  outliers_->setStore(store_.get());
  locality_->setStore(store_.get());
  needle_->setStore(store_.get());
  comparison_->setStore(store_.get());
  updateCentralPage();
  statusBar()->showMessage(tr("Opened %1").arg(path), 5000);
  return true;
}

void MainWindow::refreshAll() {
  updateCentralPage();
  browser_->refresh();
  outliers_->refresh();
  locality_->refresh();
  needle_->refresh();
  comparison_->refresh();
}

void MainWindow::showError(const QString& title, const QString& message) {
  lastError_ = message;
  statusBar()->showMessage(tr("%1: %2").arg(title, message), 10000);
  if (!quiet_) QMessageBox::critical(this, title, message);
}

void MainWindow::raiseView(QWidget* view) {
  for (QDockWidget* d : docks_)
    if (dock_view(d) == view) {
      d->show();
      d->raise();
    }
}

void MainWindow::openRun(const RunRecord& run) {
  auto raise = [this](QWidget* view) { raiseView(view); };
  if (run.kind == "analyze") {
    outliers_->showRun(run.id);
    locality_->showRun(run.id);
    raise(outliers_);
  } else if (run.kind == "needle") {
    needle_->showRuns(run.id);
    raise(needle_);
  } else if (run.kind == "ppl" || run.kind == "peer") {
    comparison_->showRun(run.id);
    raise(comparison_);
  } else {
    QMessageBox box(QMessageBox::Information, tr("Run %1").arg(run.id),
                    tr("%1 run, configuration %2").arg(QString::fromStdString(run.kind), QString::fromStdString(run.config)),
                    QMessageBox::Ok, this);
    box.setDetailedText(QString::fromStdString(run.metrics.dump(2)));
    if (!quiet_) box.exec();
  }
}

void MainWindow::compareRuns(const RunRecord& a, const RunRecord& b) {
  if (a.kind == "needle") {
    needle_->showRuns(a.id, b.id);
    for (QDockWidget* d : docks_)
      if (dock_view(d) == needle_) d->raise();
  } else {
    // Every other kind: both runs' identity, params and metrics side by side, B - A per number.
    auto* dialog = new QDialog(this);
    dialog->setObjectName("runComparison");
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Run %1 vs run %2 (%3)").arg(a.id).arg(b.id).arg(QString::fromStdString(a.kind)));
    auto* table = new QTableWidget(dialog);
    table->setObjectName("comparisonTable");
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    const int differ = fill_run_comparison(table, a, b);
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(new QLabel(tr("%n field(s) differ (bold).", nullptr, differ), dialog));
    layout->addWidget(table);
    dialog->resize(760, 560);
    dialog->show();
  }
}

void MainWindow::openCalibrationFile(const QString& path) {
  try {
    outliers_->showCalibration(load_calibration(path.toStdString()), QFileInfo(path).fileName());
    StudioSettings().addRecentFile(path);
    updateRecentMenu();
    for (QDockWidget* d : docks_)
      if (dock_view(d) == outliers_) d->raise();
  } catch (const std::exception& e) {
    showError(tr("Open calibration"), QString::fromStdString(e.what()));
  }
}

void MainWindow::showCalibrationWizard() {
  if (!store_) {
    showError(tr("Calibrate"), tr("Open a run store first (File > Open run store)."));
    return;
  }
  if (store_->read_only()) {
    showError(tr("Calibrate"), tr("%1 is open read-only: a calibration cannot be stored in it. Open it with "
                                  "File > Open run store, or open another store.").arg(QString::fromStdString(store_->path())));
    return;
  }
  CalibrationWizard wizard(runner_, QString::fromStdString(store_->path()), StudioSettings().dataDir(), this);
  wizard.setQuiet(quiet_);
  wizard.exec();
  runner_->cancel();
  runner_->wait();
  refreshAll();
}

QStringList MainWindow::saveScreenshots(const QString& dir) {
  QDir().mkpath(dir);
  QStringList written;
  auto save = [&](QWidget* w, const QString& name) {
    QApplication::processEvents();
    const QString path = QDir(dir).filePath(name + QStringLiteral(".png"));
    if (w->grab().save(path)) written << path;
  };
  for (QDockWidget* d : docks_) {
    d->raise();
    QApplication::processEvents();
    save(this, QStringLiteral("main_window_") + d->objectName().remove(QStringLiteral("Dock")));
  }
  auto view = [&](QWidget* w, const QString& name) {
    const QSize old = w->size();
    QWidget* parent = w->parentWidget();
    w->setParent(nullptr);
    w->resize(1400, 850);
    w->show();
    save(w, name);
    w->hide();
    w->setParent(parent);
    w->resize(old);
  };
  for (QDockWidget* d : docks_) {
    auto* area = qobject_cast<QScrollArea*>(d->widget());
    QWidget* w = area->takeWidget();
    view(w, d->objectName().remove(QStringLiteral("Dock")));
    area->setWidget(w);
  }
  return written;
}

}  // namespace skvq::studio
