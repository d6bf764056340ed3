#include "runs_table_model.h"

namespace skvq::gui {

namespace {
double number(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return std::nan("");
  return j[key].get<double>();
}
}  // namespace

RunsTableModel::RunsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunsTableModel::setRuns(std::vector<RunRecord> runs, QHash<qint64, QString> modelNames) {
  beginResetModel();
  runs_ = std::move(runs);
  modelNames_ = std::move(modelNames);
  endResetModel();
}

QString RunsTableModel::resultText(const RunRecord& r) {
  const auto& m = r.metrics;
  auto fmt = [](const QString& name, double v, int prec) {
    return std::isnan(v) ? QString() : QStringLiteral("%1 %2").arg(name, QString::number(v, 'f', prec));
  };
  if (r.kind == "ppl") return fmt(QStringLiteral("ppl"), number(m, "ppl"), 4);
  if (r.kind == "needle") return fmt(QStringLiteral("rougeL"), number(m, "mean_rougeL_f"), 3);
  if (r.kind == "longbench") return fmt(QStringLiteral("avg"), number(m, "average"), 3);
  if (r.kind == "analyze") return fmt(QStringLiteral("window mass"), number(m, "mean_window_mass"), 3);
  return {};
}

int RunsTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

int RunsTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const RunRecord& r = runs_[static_cast<size_t>(index.row())];
  if (role == Qt::TextAlignmentRole && (index.column() == Id || index.column() == Wall))
    return int(Qt::AlignRight | Qt::AlignVCenter);
  if (role == Qt::ToolTipRole && index.column() == Config)
    return QString::fromStdString(r.params.dump(2));
  if (role != Qt::DisplayRole && role != SortRole) return {};
  switch (index.column()) {
    case Id: return role == SortRole ? QVariant(double(r.id)) : QVariant(qlonglong(r.id));
    case Kind: return QString::fromStdString(r.kind);
    case Model: return modelNames_.value(r.model_id, QString::number(r.model_id));
    case Config: return QString::fromStdString(r.config);
    case Status: return QString::fromStdString(r.status);
    case Result: {
      if (role == SortRole) {
        const char* key = r.kind == "ppl" ? "ppl" : r.kind == "needle" ? "mean_rougeL_f"
                        : r.kind == "longbench" ? "average" : "mean_window_mass";
        return number(r.metrics, key);
      }
      return resultText(r);
    }
    case Created: return QString::fromStdString(r.created_at);
    case Wall: return role == SortRole ? QVariant(r.wall_seconds) : QVariant(QString::number(r.wall_seconds, 'f', 1));
  }
  return {};
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"ID", "Kind", "Model", "Config", "Status", "Result", "Created", "Wall s"};
  return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

}  // namespace skvq::gui
