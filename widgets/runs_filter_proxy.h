#pragma once
// Filters the runs table by kind, model and configuration text; sorts by SortRole.
#include <QSortFilterProxyModel>

namespace skvq::gui {

class RunsFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT
 public:
  explicit RunsFilterProxy(QObject* parent = nullptr);
  /// Empty strings match everything.
  void setKind(const QString& kind);
  void setModelName(const QString& model);
  void setConfigText(const QString& text);

 protected:
  bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

 private:
  QString kind_, model_, text_;
};

}  // namespace skvq::gui
