#pragma once
// Run browser: models and their calibrations, and the runs of the store with filters by kind,
// model and configuration text; open, compare, delete and export (CSV/JSON).
#include <QWidget>
#include <vector>

#include "skvq/run_store.h"

class QComboBox;
class QLineEdit;
class QPushButton;
class QTableView;
class QTreeWidget;

namespace skvq::gui {
class RunsTableModel;
class RunsFilterProxy;
}

namespace skvq::studio {

class RunDetails;

class RunBrowser : public QWidget {
  Q_OBJECT
 public:
  explicit RunBrowser(QWidget* parent = nullptr);
  void setStore(RunStore* store);
  void refresh();
  /// Runs of the selected rows (or every visible row when none is selected).
  std::vector<RunRecord> selectedRuns(bool allWhenNone) const;
  /// Writes runs (selected, else visible) to a file. Throws skvq::Error / reports via signal.
  bool exportTo(const QString& path, bool json);
  /// Selects and shows the run with this id, clearing the filters when they hide it; false when
  /// the store has no such run.
  bool selectRun(qint64 id);
  void setKindFilter(const QString& kind);
  void setConfigFilter(const QString& text);
  QTableView* table() const { return table_; }
  QTreeWidget* models() const { return models_; }
  RunDetails* details() const { return details_; }
  /// The buttons by object name ("open", "compare", "delete", ...): enabled only when their
  /// action can run, with a tooltip saying why not.
  QPushButton* button(const QString& name) const;
  int visibleRows() const;

 public Q_SLOTS:
  void openSelected();
  void compareSelected();
  void deleteSelected(bool confirm = true);
  void exportDialog(bool json);

 Q_SIGNALS:
  void openRun(const skvq::RunRecord& run);
  void compareRuns(const skvq::RunRecord& a, const skvq::RunRecord& b);
  void calibrationActivated(const QString& path);
  void errorOccurred(const QString& title, const QString& message);
  void storeChanged();

 private:
  void buildContextMenu();
  void updateActions();
  RunStore* store_ = nullptr;
  RunDetails* details_;
  QTreeWidget* models_;
  QComboBox* kind_;
  QComboBox* model_;
  QLineEdit* text_;
  QTableView* table_;
  gui::RunsTableModel* runsModel_;
  gui::RunsFilterProxy* proxy_;
};

}  // namespace skvq::studio
