#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

#include "calibration_wizard.h"
#include "comparison_view.h"
#include "engine.h"
#include "job_runner.h"
#include "job_status_widget.h"
#include "locality_view.h"
#include "needle_view.h"
#include "outlier_view.h"
#include "run_browser.h"
#include "run_menu.h"
#include "settings_dialog.h"
#include "studio_settings.h"

namespace skvq::studio {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("SKVQ Studio"));
  runner_ = new JobRunner(this);
  browser_ = new RunBrowser(this);
  setCentralWidget(browser_);
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
  resize(1500, 950);
}

MainWindow::~MainWindow() {
  runner_->cancel();
  runner_->wait();
}

QDockWidget* MainWindow::addView(QWidget* view, const QString& title, const QString& name,
                                 Qt::DockWidgetArea area) {
  auto* dock = new QDockWidget(title, this);
  dock->setObjectName(name);
  dock->setWidget(view);
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
  file->addAction(tr("&Settings..."), this, [this] {
    SettingsDialog dialog(this);
    if (dialog.exec() == QDialog::Accepted) {
      StudioSettings s;
      skvq::set_threads(s.threads());
      comparison_->setDataDir(s.dataDir());
      if (!store_ || QString::fromStdString(store_->path()) != s.databasePath()) openDatabase(s.databasePath());
    }
  });
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
  QMenu* tools = menuBar()->addMenu(tr("&Tools"));
  tools->addAction(tr("&Calibrate a model..."), this, &MainWindow::showCalibrationWizard);
  tools->addAction(tr("&Refresh"), QKeySequence::Refresh, this, &MainWindow::refreshAll);
  tools->addAction(tr("Cancel current &job"), runner_, &JobRunner::cancel);
  add_run_menu(*this);
  viewMenu_ = menuBar()->addMenu(tr("&View"));
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
  statusBar()->showMessage(tr("Opened %1").arg(path), 5000);
  return true;
}

void MainWindow::refreshAll() {
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

void MainWindow::openRun(const RunRecord& run) {
  auto raise = [this](QWidget* view) {
    for (QDockWidget* d : docks_)
      if (d->widget() == view) {
        d->show();
        d->raise();
      }
  };
  if (run.kind == "analyze") {
    outliers_->showRun(run.id);
    locality_->showRun(run.id);
    raise(outliers_);
  } else if (run.kind == "needle") {
    needle_->showRuns(run.id);
    raise(needle_);
  } else if (run.kind == "ppl") {
    comparison_->refresh();
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
      if (d->widget() == needle_) d->raise();
  } else {
    openRun(a);
  }
}

void MainWindow::openCalibrationFile(const QString& path) {
  try {
    outliers_->showCalibration(load_calibration(path.toStdString()), QFileInfo(path).fileName());
    StudioSettings().addRecentFile(path);
    updateRecentMenu();
    for (QDockWidget* d : docks_)
      if (d->widget() == outliers_) d->raise();
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
    QWidget* w = d->widget();
    d->setWidget(nullptr);
    view(w, d->objectName().remove(QStringLiteral("Dock")));
    d->setWidget(w);
  }
  return written;
}

}  // namespace skvq::studio
