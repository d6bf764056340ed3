#pragma once
// Comma-separated list options ("--lengths 256,384,512"), parsed with a clear error.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "skvq/error.h"

namespace skvq::cli {

/// Parses "a,b,c" into numbers of type T (int64_t or double). Throws ConfigError naming the
/// option and the item that is not a number.
template <class T>
std::vector<T> parse_list(const std::string& text, const std::string& option) {
  std::vector<T> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      size_t used = 0;
      if constexpr (std::is_integral_v<T>) out.push_back(static_cast<T>(std::stoll(item, &used)));
      else out.push_back(static_cast<T>(std::stod(item, &used)));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw ConfigError(option + ": \"" + item + "\" is not " + (std::is_integral_v<T> ? "an integer" : "a number"));
    }
  }
  return out;
}

}  // namespace skvq::cli
