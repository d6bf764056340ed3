#include "run_details.h"

#include <QHeaderView>
#include <QTableWidget>
#include <cmath>
#include <map>

namespace skvq::studio {

QString format_value(const nlohmann::json& v) {
  if (v.is_number_integer()) return QString::number(v.get<int64_t>());
  if (v.is_number()) return QString::number(v.get<double>(), 'g', 6);
  if (v.is_string()) return QString::fromStdString(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? QStringLiteral("yes") : QStringLiteral("no");
  if (v.is_null()) return QStringLiteral("-");
  if (v.is_array()) {
    if (v.size() > 12) return QStringLiteral("[%1 values]").arg(v.size());
    QStringList parts;
    for (const auto& e : v) parts << format_value(e);
    return parts.join(QStringLiteral(", "));
  }
  QStringList parts;
  for (const auto& [k, e] : v.items()) parts << QString::fromStdString(k) + QStringLiteral(": ") + format_value(e);
  return parts.join(QStringLiteral("; "));
}

namespace {

QString table_html(const QString& title, const nlohmann::json& object) {
  QString html = QStringLiteral("<h4>%1</h4><table cellspacing='0' cellpadding='2'>").arg(title.toHtmlEscaped());
  if (!object.is_object() || object.empty()) return html + QStringLiteral("<tr><td><i>none</i></td></tr></table>");
  for (const auto& [k, v] : object.items())  // nlohmann::json objects iterate in key order
    html += QStringLiteral("<tr><td><b>%1</b></td><td>%2</td></tr>")
                .arg(QString::fromStdString(k).toHtmlEscaped(), format_value(v).toHtmlEscaped());
  return html + QStringLiteral("</table>");
}

// The fields two runs are compared on, as flat "group.key" -> value.
std::map<std::string, nlohmann::json> flatten(const RunRecord& r) {
  std::map<std::string, nlohmann::json> out{{"kind", r.kind}, {"config", r.config}, {"model_id", r.model_id},
                                            {"status", r.status}, {"text", r.data_path}, {"wall_seconds", r.wall_seconds}};
  if (r.calibration_id) out["calibration_id"] = *r.calibration_id;
  for (const auto& [k, v] : r.params.items()) out["params." + k] = v;
  for (const auto& [k, v] : r.metrics.items()) out["metrics." + k] = v;
  return out;
}

}  // namespace

QString run_details_html(const RunRecord& r, const QString& modelName) {
  QString html = QStringLiteral("<h3>Run %1: %2</h3>").arg(r.id).arg(QString::fromStdString(r.kind).toHtmlEscaped());
  nlohmann::json head = {{"model", modelName.toStdString()}, {"configuration", r.config}, {"status", r.status},
                         {"host", r.host}, {"created", r.created_at}, {"wall seconds", r.wall_seconds},
                         {"text", r.data_path}, {"software", r.software_version}};
  if (r.calibration_id) head["calibration id"] = *r.calibration_id;
  return html + table_html(QObject::tr("Run"), head) + table_html(QObject::tr("Parameters"), r.params) +
         table_html(QObject::tr("Metrics"), r.metrics);
}

RunDetails::RunDetails(QWidget* parent) : QTextBrowser(parent) {
  setObjectName("runDetails");
  showRun(nullptr, {});
}

void RunDetails::showRun(const RunRecord* run, const QString& modelName) {
  setHtml(run ? run_details_html(*run, modelName) : tr("<i>Select a run to see its parameters and metrics.</i>"));
}

int fill_run_comparison(QTableWidget* table, const RunRecord& a, const RunRecord& b) {
  const auto fa = flatten(a), fb = flatten(b);
  std::map<std::string, std::pair<nlohmann::json, nlohmann::json>> rows;
  for (const auto& [k, v] : fa) rows[k].first = v;
  for (const auto& [k, v] : fb) rows[k].second = v;
  table->clear();
  table->setColumnCount(4);
  table->setHorizontalHeaderLabels({QObject::tr("field"), QObject::tr("run %1").arg(a.id), QObject::tr("run %1").arg(b.id),
                                    QObject::tr("B - A")});
  table->setRowCount(static_cast<int>(rows.size()));
  int row = 0, differ = 0;
  for (const auto& [key, pair] : rows) {
    const auto& [va, vb] = pair;
    const bool same = va == vb;
    differ += !same;
    QStringList cells{QString::fromStdString(key), format_value(va), format_value(vb), QString()};
    if (va.is_number() && vb.is_number()) cells[3] = QString::number(vb.get<double>() - va.get<double>(), 'g', 6);
    for (int c = 0; c < 4; ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      QFont f = item->font();
      f.setBold(!same);
      item->setFont(f);
      table->setItem(row, c, item);
    }
    ++row;
  }
  table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  return differ;
}

}  // namespace skvq::studio
