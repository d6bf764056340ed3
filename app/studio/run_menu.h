#pragma once
// The main window's Run menu: one form for each run kind (needle grid, attention locality,
// LongBench tasks, batch job file) and the memory planner. Each form is created on first use as
// a child of the window, points at the window's store, and when its job has stored runs they are
// selected in the run browser and opened in their view.
#include <QList>

namespace skvq::studio {

class BatchForm;
class LocalityForm;
class LongBenchForm;
class MainWindow;
class MemoryPlanner;
class NeedleForm;

/// Adds the Run menu to the window's menu bar (called from MainWindow::buildMenus).
void add_run_menu(MainWindow& window);

/// The window's form (created and wired on first use; store and default paths refreshed on
/// each call). Shown by the menu; tests drive them without showing.
NeedleForm* needle_form(MainWindow& window);
LocalityForm* locality_form(MainWindow& window);
LongBenchForm* longbench_form(MainWindow& window);
BatchForm* batch_form(MainWindow& window);
MemoryPlanner* memory_planner(MainWindow& window);

/// Refreshes the window, selects the last of `ids` in the run browser and opens the runs in
/// their view: needle runs side by side (reference and the last), analyze runs in the locality
/// view, ppl runs in the comparison view; LongBench runs are only selected (their form shows
/// the scores).
void show_stored_runs(MainWindow& window, const QList<qint64>& ids);

}  // namespace skvq::studio
