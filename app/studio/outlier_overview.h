#pragma once
// Data of the Outliers view's all-layer plots, from "channels/layer<l>" and
// "group_error/layer<l>" items (docs/run-items.md, kind "analyze"; a calibration gives the
// same channels items through calibration_channels_item).
#include <QString>
#include <QVector>
#include <nlohmann/json.hpp>
#include <vector>

namespace skvq::studio {

/// Per-channel statistic shown in the layer x channel overview.
enum class ChannelStat { absmax, range };

/// Layer x channel grid: values[l][j] is the statistic of the channel drawn at position j of
/// layer l (original channel j, or perm[j] when reordered); channels[l][j] that channel;
/// boundaries[l] the positions where a group starts (offsets[1..n-2] when reordered,
/// multiples of group_size otherwise).
struct ChannelOverview {
  QVector<QVector<double>> values;
  QVector<QVector<int>> channels, boundaries;
};

/// `layers[l]` is the channels item of layer l; `tensor` "k" or "v". A layer whose perm does
/// not cover its channels is drawn in original order.
ChannelOverview channel_overview(const std::vector<nlohmann::json>& layers, const char* tensor,
                                 ChannelStat stat, bool reordered);

/// Mean over groups of a layer's per-group MSE: series[name][l] for name in plain, reorder,
/// reorder_clip of one tensor; NaN where layer l has no item.
struct LayerErrorSeries {
  QVector<double> layer;                  ///< x: 0..L-1
  QVector<QVector<double>> series;        ///< [3][L]: plain, reorder, reorder_clip
};
/// `errors[l]` is the group_error item of layer l (null: missing); `tensor` "k" or "v".
LayerErrorSeries layer_error_means(const std::vector<nlohmann::json>& errors, const char* tensor);
/// The keys of LayerErrorSeries::series, in order.
inline const char* const kErrorVariants[3] = {"plain", "reorder", "reorder_clip"};

}  // namespace skvq::studio
