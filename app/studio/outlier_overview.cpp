#include "outlier_overview.h"

#include <cmath>

#include "json_util.h"

namespace skvq::studio {

ChannelOverview channel_overview(const std::vector<nlohmann::json>& layers, const char* tensor,
                                 ChannelStat stat, bool reordered) {
  ChannelOverview out;
  for (const nlohmann::json& item : layers) {
    const nlohmann::json tj = item.is_object() && item.contains(tensor) ? item[tensor] : nlohmann::json::object();
    const QVector<double> lo = json_doubles(tj, "min"), hi = json_doubles(tj, "max");
    const QVector<double> absmax = json_doubles(tj, "absmax");
    const QVector<int> perm = json_ints(tj, "perm"), offsets = json_ints(tj, "offsets");
    const int n = static_cast<int>(stat == ChannelStat::absmax ? absmax.size() : std::min(lo.size(), hi.size()));
    const bool permuted = reordered && perm.size() == n;
    QVector<double> values;
    QVector<int> channels, bounds;
    for (int j = 0; j < n; ++j) {
      const int c = permuted ? perm[j] : j;
      channels << c;
      values << (stat == ChannelStat::absmax ? absmax[c] : hi[c] - lo[c]);
    }
    const int groupSize = item.is_object() ? item.value("group_size", 0) : 0;
    if (permuted && offsets.size() > 1) {
      for (int i = 1; i + 1 < offsets.size(); ++i) bounds << offsets[i];
    } else if (groupSize > 0) {
      for (int b = groupSize; b < n; b += groupSize) bounds << b;
    }
    out.values << values;
    out.channels << channels;
    out.boundaries << bounds;
  }
  return out;
}

LayerErrorSeries layer_error_means(const std::vector<nlohmann::json>& errors, const char* tensor) {
  LayerErrorSeries out;
  out.series.resize(3);
  for (size_t l = 0; l < errors.size(); ++l) {
    out.layer << static_cast<double>(l);
    const nlohmann::json& e = errors[l];
    const nlohmann::json tj = e.is_object() && e.contains(tensor) ? e[tensor] : nlohmann::json::object();
    for (int s = 0; s < 3; ++s) {
      const QVector<double> g = json_doubles(tj, kErrorVariants[s]);
      double sum = 0;
      for (double v : g) sum += v;
      out.series[s] << (g.isEmpty() ? std::nan("") : sum / g.size());
    }
  }
  return out;
}

}  // namespace skvq::studio
