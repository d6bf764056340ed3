#include "json_util.h"

#include <cmath>

namespace skvq::studio {

QVector<double> json_doubles(const nlohmann::json& j, const char* key) {
  QVector<double> out;
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return out;
  for (const auto& v : j[key]) out.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return out;
}

QVector<int> json_ints(const nlohmann::json& j, const char* key) {
  QVector<int> out;
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return out;
  for (const auto& v : j[key]) out.push_back(v.is_number() ? v.get<int>() : 0);
  return out;
}

double json_number(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return std::nan("");
  const auto& v = j[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return std::nan("");
}

QString json_string(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return {};
  return QString::fromStdString(j[key].get<std::string>());
}

}  // namespace skvq::studio
