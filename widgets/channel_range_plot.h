#pragma once
// Per-channel ranges of K or V (min..max bar and absmax dot per channel), coloured by cluster,
// in original or reordered channel order, with group boundaries as dashed lines.
#include "qcustomplot_include.h"

#include <QVector>

namespace skvq::gui {

/// Calibration values of one tensor of one layer, in original channel order.
struct ChannelRanges {
  QVector<double> min, max, absmax;  ///< [C]
  QVector<int> labels;               ///< [C] cluster of each channel (empty: none)
  QVector<int> perm;                 ///< [C] reordered position j -> original channel (empty: identity)
  QVector<int> offsets;              ///< group boundaries in reordered positions (empty: contiguous)
  int group_size = 0;                ///< contiguous group size when not reordered
};

class ChannelRangePlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit ChannelRangePlot(QWidget* parent = nullptr);
  /// Draws the channels in original order or, when `reordered`, in the order of perm with the
  /// cluster boundaries of offsets.
  void setChannels(const ChannelRanges& ranges, bool reordered, const QString& title = {});

  /// Channel (original index) drawn at position x, in the current order.
  const QVector<int>& displayOrder() const { return order_; }
  /// Group boundaries drawn, as channel positions.
  const QVector<int>& boundaries() const { return boundaries_; }
  /// Minimum and maximum of the drawn data (before axis padding).
  double dataLow() const { return low_; }
  double dataHigh() const { return high_; }
  /// Tooltip for the channel drawn nearest `pixel` (position, channel, cluster, min, max,
  /// absmax); empty outside the channels.
  QString toolTipAt(const QPoint& pixel) const;
  /// position,channel,cluster,min,max,absmax: one line per drawn channel, in display order.
  QString csv() const;

 protected:
  bool event(QEvent* e) override;

 private:
  QString channelLine(int position) const;
  ChannelRanges ranges_;
  QVector<int> order_, boundaries_;
  double low_ = 0, high_ = 0;
};

}  // namespace skvq::gui
