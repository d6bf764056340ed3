#pragma once
// Table model over the run store's run records: one row per run.
#include <QAbstractTableModel>
#include <QHash>
#include <vector>

#include "skvq/run_store.h"

namespace skvq::gui {

class RunsTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { Id, Kind, Model, Config, Status, Result, Created, Wall, ColumnCount };
  /// Role giving a sortable value (numbers as double, text as string).
  static constexpr int SortRole = Qt::UserRole + 1;

  explicit RunsTableModel(QObject* parent = nullptr);
  /// Replaces the rows; modelNames maps model ids to names for the Model column.
  void setRuns(std::vector<RunRecord> runs, QHash<qint64, QString> modelNames);
  const RunRecord& run(int row) const { return runs_.at(static_cast<size_t>(row)); }
  const std::vector<RunRecord>& runs() const { return runs_; }
  QString modelName(qint64 modelId) const { return modelNames_.value(modelId); }

  /// The headline number of a run: ppl, mean ROUGE-L, LongBench average or mean window mass.
  static QString resultText(const RunRecord& run);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<RunRecord> runs_;
  QHash<qint64, QString> modelNames_;
};

}  // namespace skvq::gui
