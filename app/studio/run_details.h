#pragma once
// A run's parameters and metrics formatted for people (the run browser's details pane), and
// two runs of any kind side by side with their differences (Compare two).
#include <QString>
#include <QTextBrowser>

#include "skvq/run_store.h"

class QTableWidget;

namespace skvq::studio {

/// One value of a params/metrics object as text: numbers with up to 6 significant digits,
/// strings as they are, arrays of up to 12 numbers joined by ", " (longer: "[n values]"),
/// objects as "key: value" pairs.
QString format_value(const nlohmann::json& v);

/// HTML of one run: kind, model, configuration, status, host, created, wall time, then a table
/// of its params and one of its metrics (keys sorted).
QString run_details_html(const RunRecord& run, const QString& modelName);

/// The details pane: shows the selected run (or says nothing is selected).
class RunDetails : public QTextBrowser {
  Q_OBJECT
 public:
  explicit RunDetails(QWidget* parent = nullptr);
  void showRun(const RunRecord* run, const QString& modelName);
};

/// Fills `table` with the rows key | A | B | B - A over the union of both runs' fields
/// (identity, params.*, metrics.*); numeric differences in the last column, rows that differ
/// in bold. Returns the number of rows that differ.
int fill_run_comparison(QTableWidget* table, const RunRecord& a, const RunRecord& b);

}  // namespace skvq::studio
