#pragma once
// The main window: run browser in the centre, dockable views (outliers, attention locality,
// needle grids, comparison dashboard), recent files, settings, and a status bar with the
// current job, its progress and a cancel button.
#include <QMainWindow>
#include <memory>

#include "skvq/run_store.h"

class QAction;
class QDockWidget;
class QMenu;
class QStackedWidget;

namespace skvq::studio {

class ComparisonView;
class EmptyStatePage;
class JobRunner;
class JobStatusWidget;
class LocalityView;
class NeedleView;
class OutlierView;
class RunBrowser;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Opens (creating if needed) a run store; on failure shows an error naming the file and keeps
  /// the store it had. `readOnly`, or a file or folder this process cannot write, opens an existing
  /// store with StoreMode::ReadOnly: it is browsed and never written, and jobs are refused.
  bool openDatabase(const QString& path, bool readOnly = false);
  RunStore* store() const { return store_.get(); }
  JobRunner* jobRunner() const { return runner_; }
  RunBrowser* runBrowser() const { return browser_; }
  OutlierView* outlierView() const { return outliers_; }
  LocalityView* localityView() const { return locality_; }
  NeedleView* needleView() const { return needle_; }
  ComparisonView* comparisonView() const { return comparison_; }
  JobStatusWidget* jobStatus() const { return status_; }
  /// The first-start page, shown instead of the run browser while the store holds no runs and
  /// no models (or none is open).
  EmptyStatePage* emptyState() const { return empty_; }
  bool showsEmptyState() const;
  /// Tools > Calibrate: disabled, with the reason as its tooltip, without a writable store.
  QAction* calibrateAction() const { return calibrate_; }
  /// Shows and raises the dock holding `view` (one of the views above).
  void raiseView(QWidget* view);
  /// Errors go to dialogs unless quiet (tests); the last one is kept.
  void setQuiet(bool quiet) { quiet_ = quiet; }
  QString lastError() const { return lastError_; }
  /// Saves the window and each view as PNG files into `dir`; returns the files written.
  QStringList saveScreenshots(const QString& dir);
  /// Window geometry and dock layout to QSettings ("window/geometry", "window/state"), and back.
  void saveWindowState() const;
  bool restoreWindowState();
  /// The Help > About text: this program's version and those of Qt, LibTorch, CUDA and SQLite.
  QString aboutText() const;

 public Q_SLOTS:
  void refreshAll();
  void showError(const QString& title, const QString& message);
  void openRun(const skvq::RunRecord& run);
  void compareRuns(const skvq::RunRecord& a, const skvq::RunRecord& b);
  void openCalibrationFile(const QString& path);
  void showCalibrationWizard();

 protected:
  /// Asks before quitting while a job runs (unless quiet), then saves the window state.
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void updateRecentMenu();
  void updateCentralPage();
  void showSettings();
  QDockWidget* addView(QWidget* view, const QString& title, const QString& name, Qt::DockWidgetArea area);
  std::unique_ptr<RunStore> store_;
  JobRunner* runner_;
  RunBrowser* browser_;
  EmptyStatePage* empty_;
  QStackedWidget* central_;
  OutlierView* outliers_;
  LocalityView* locality_;
  NeedleView* needle_;
  ComparisonView* comparison_;
  JobStatusWidget* status_;
  QMenu* recent_ = nullptr;
  QAction* calibrate_ = nullptr;
  QMenu* viewMenu_ = nullptr;
  QList<QDockWidget*> docks_;
  bool quiet_ = false;
  QString lastError_;
};

}  // namespace skvq::studio
