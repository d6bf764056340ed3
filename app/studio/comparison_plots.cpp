// The comparison dashboard's three plots (comparison_view.h).
#include <QComboBox>
#include <cmath>
#include <map>

#include "colour_scale.h"
#include "comparison_view.h"
#include "curve_plot.h"
#include "engine.h"
#include "grouped_bar_plot.h"
#include "pareto.h"

namespace skvq::studio {
namespace {

struct SystemStyle {
  QColor colour;
  QCPScatterStyle::ScatterShape shape;
};

// Ours as circles; each peer system its own marker and colour, so peers stand out.
SystemStyle style_for(const std::string& system) {
  if (system == "skvq") return {QColor(31, 119, 180), QCPScatterStyle::ssCircle};
  if (system == "llama.cpp") return {QColor(255, 127, 14), QCPScatterStyle::ssDiamond};
  if (system == "transformers") return {QColor(44, 160, 44), QCPScatterStyle::ssTriangle};
  return {QColor(148, 103, 189), QCPScatterStyle::ssSquare};
}

// Short legend labels; the peer's version is in the table's tooltip.
QString system_label(const ComparisonRow& r) {
  if (!r.peer) return QObject::tr("SKVQ Studio (ours)");
  return QString::fromStdString(r.system) + QObject::tr(" (peer)");
}

}  // namespace

void ComparisonView::drawPplPlot() {
  const int mode = yAxis_->currentIndex();  // 0 PPL, 1 dPPL, 2 log PPL
  pplPlot_->clearCurves();
  pplPlot_->setLogY(mode == 2);
  pplPlot_->setTitles(tr("Perplexity vs average stored bits (K+V)/2"), tr("bits per element"),
                      mode == 1 ? tr("ΔPPL") : tr("PPL"));
  std::map<std::string, std::pair<QString, gui::CurveStyle>> systems;
  std::map<std::string, std::pair<QVector<double>, QVector<double>>> points;
  QVector<double> allX, allY;
  QVector<qint64> allIds;
  QStringList allTips;
  for (const ComparisonRow& r : rows_) {
    const double y = mode == 1 ? r.delta_ppl : r.ppl;
    if (!std::isfinite(r.bits()) || !std::isfinite(y) || (mode == 2 && y <= 0)) continue;
    auto& [label, style] = systems[r.system];
    label = system_label(r);
    style.pointsOnly = true;
    style.shape = style_for(r.system).shape;
    style.markerSize = r.peer ? 9 : 7;
    style.ids << r.run_id;
    style.tips << QString::fromStdString(r.config);
    points[r.system].first << r.bits();
    points[r.system].second << y;
    allX << r.bits();
    allY << y;
    allIds << r.run_id;
    allTips << QString::fromStdString(r.config);
  }
  for (const auto& [system, ls] : systems)
    pplPlot_->addCurve(ls.first, points[system].first, points[system].second, style_for(system).colour, ls.second);
  const QVector<int> frontier = gui::pareto_frontier(allX, allY);
  if (frontier.size() > 1) {
    gui::CurveStyle line;
    line.dashed = true;
    line.markerSize = 1;
    line.shape = QCPScatterStyle::ssNone;
    QVector<double> fx, fy;
    for (int i : frontier) {
      fx << allX[i];
      fy << allY[i];
      line.ids << allIds[i];
      line.tips << allTips[i];
    }
    pplPlot_->addCurve(tr("Pareto frontier"), fx, fy, QColor(90, 90, 90), line);
  }
  pplPlot_->rescale();
  pplPlot_->highlight(selectedRun());
}

void ComparisonView::drawBytesPlot() {
  QStringList names;
  QVector<double> bytes;
  for (const ComparisonRow& r : rows_) {
    names << (r.peer ? QString::fromStdString(r.system + ": " + r.config) : QString::fromStdString(r.config));
    bytes << (std::isfinite(r.kv_bytes_per_token) ? r.kv_bytes_per_token : 0.0);
  }
  bytesPlot_->setBars(names, {tr("KV bytes/token")}, {bytes});
}

void ComparisonView::drawMemoryPlot() {
  memoryPlot_->clearCurves();
  const ModelRecord* model = currentModel();
  if (!model) {
    memoryPlot_->rescale();
    return;
  }
  const int64_t maxLen = std::max<int64_t>(512, model->config.value("max_position_embeddings", int64_t{512}) * 8);
  std::vector<int64_t> lengths;
  for (int64_t n = 64; n <= maxLen; n *= 2) lengths.push_back(n);
  const QVector<double> x(lengths.begin(), lengths.end());
  QStringList drawn;
  int colour = 0;
  auto draw = [&](const ComparisonRow& r) {
    const QString name = r.peer ? QString::fromStdString(r.system + ": " + r.config) : QString::fromStdString(r.config);
    if (drawn.contains(name)) return;
    QVector<double> mib;
    if (r.peer) {
      if (!std::isfinite(r.kv_bytes_per_token)) return;
      for (int64_t n : lengths) mib << r.kv_bytes_per_token * static_cast<double>(n) / (1024.0 * 1024.0);
    } else {
      try {
        for (double v : kv_cache_bytes(model->config, r.config, lengths)) mib << v / (1024.0 * 1024.0);
      } catch (const std::exception&) {
        return;  // a model record without the fields the accounting needs: no curve
      }
    }
    drawn << name;
    gui::CurveStyle style;
    style.dashed = r.peer;
    style.shape = r.peer ? style_for(r.system).shape : QCPScatterStyle::ssCircle;
    memoryPlot_->addCurve(name, x, mib, gui::cluster_colour(colour++), style);
  };
  for (const ComparisonRow& r : rows_) draw(r);
  memoryPlot_->setLogX(true);
  memoryPlot_->rescale();
}

}  // namespace skvq::studio
