#pragma once
// Small conversions from run-item JSON to Qt containers, for the views.
#include <nlohmann/json.hpp>

#include <QString>
#include <QVector>

namespace skvq::studio {

/// Numbers of a JSON array (missing or non-array: empty).
QVector<double> json_doubles(const nlohmann::json& j, const char* key);
QVector<int> json_ints(const nlohmann::json& j, const char* key);
/// A number field or NaN.
double json_number(const nlohmann::json& j, const char* key);
QString json_string(const nlohmann::json& j, const char* key);

}  // namespace skvq::studio
