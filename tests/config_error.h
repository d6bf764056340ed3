#pragma once
// A test helper for the engine's configuration errors (not in test_util.h, which the GUI test
// fixture includes without the engine's headers).
#include <functional>
#include <string>

#include "skvq/error.h"

namespace skvq::test {

/// The message of the ConfigError that f throws, or "(accepted)" when it throws none.
inline std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace skvq::test
