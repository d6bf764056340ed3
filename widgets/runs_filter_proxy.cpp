#include "runs_filter_proxy.h"

#include "runs_table_model.h"

namespace skvq::gui {

RunsFilterProxy::RunsFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(RunsTableModel::SortRole);
}

void RunsFilterProxy::setKind(const QString& kind) {
  kind_ = kind;
  invalidateFilter();
}

void RunsFilterProxy::setModelName(const QString& model) {
  model_ = model;
  invalidateFilter();
}

void RunsFilterProxy::setConfigText(const QString& text) {
  text_ = text;
  invalidateFilter();
}

bool RunsFilterProxy::filterAcceptsRow(int row, const QModelIndex& parent) const {
  auto text = [&](int column) {
    return sourceModel()->index(row, column, parent).data(Qt::DisplayRole).toString();
  };
  if (!kind_.isEmpty() && text(RunsTableModel::Kind) != kind_) return false;
  if (!model_.isEmpty() && text(RunsTableModel::Model) != model_) return false;
  if (!text_.isEmpty() && !text(RunsTableModel::Config).contains(text_, Qt::CaseInsensitive))
    return false;
  return true;
}

}  // namespace skvq::gui
