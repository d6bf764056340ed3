#include "colour_scale.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace skvq::gui {

namespace {
QColor lerp(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                          a.greenF() + (b.greenF() - a.greenF()) * t,
                          a.blueF() + (b.blueF() - a.blueF()) * t);
}
}  // namespace

QColor sequential_colour(double t) {
  static const std::array<QColor, 5> stops{QColor(68, 1, 84), QColor(59, 82, 139),
                                           QColor(33, 145, 140), QColor(94, 201, 98),
                                           QColor(253, 231, 37)};
  if (!std::isfinite(t)) return QColor(200, 200, 200);
  t = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
  const auto i = std::min<size_t>(static_cast<size_t>(t), stops.size() - 2);
  return lerp(stops[i], stops[i + 1], t - static_cast<double>(i));
}

QColor diverging_colour(double t) {
  if (!std::isfinite(t)) return QColor(200, 200, 200);
  t = std::clamp(t, -1.0, 1.0);
  const QColor white(247, 247, 247);
  return t < 0 ? lerp(white, QColor(33, 102, 172), -t) : lerp(white, QColor(178, 24, 43), t);
}

QColor cluster_colour(int index) {
  static const std::array<QColor, 10> palette{
      QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44), QColor(214, 39, 40),
      QColor(148, 103, 189), QColor(140, 86, 75), QColor(227, 119, 194), QColor(127, 127, 127),
      QColor(188, 189, 34), QColor(23, 190, 207)};
  return palette[static_cast<size_t>(std::abs(index)) % palette.size()];
}

}  // namespace skvq::gui
