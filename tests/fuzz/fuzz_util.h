#pragma once
// Shared by the fuzz targets (targets/*.cpp) and their regression test
// (tests/test_fuzz_regressions.cpp): a per-process scratch folder for inputs that the engine
// reads through a path, and the rule for what counts as a finding.
//
// A target runs the real parser on the input. The engine's documented errors (skvq::Error and
// its subclasses FileError, ConfigError, StoreError, Cancelled) are the expected answer to bad
// input and are swallowed; anything else (another exception type such as std::bad_alloc,
// c10::Error or nlohmann::json::exception, a crash, a sanitizer report, a broken invariant
// checked with fuzz_check) is a finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace skvq::fuzz {

/// Signature of a target: the libFuzzer entry calls it, the regression test replays files.
using TargetFn = void (*)(const uint8_t* data, size_t size);

/// The process's scratch folder (created once, under $TMPDIR or /tmp).
const std::string& scratch_dir();

/// Writes `data` to scratch_dir()/name (truncating) and returns the path.
std::string write_input(const std::string& name, const uint8_t* data, size_t size);

/// Thrown by fuzz_check: a documented property of a parser does not hold (a finding).
struct InvariantBroken : std::logic_error {
  using std::logic_error::logic_error;
};
inline void fuzz_check(bool ok, const std::string& what) {
  if (!ok) throw InvariantBroken("fuzz invariant broken: " + what);
}

/// Calls `fn`; documented engine errors (skvq::Error) are the expected answer to bad input.
template <class F>
void expect_only_engine_errors(F&& fn);

}  // namespace skvq::fuzz

#include "skvq/error.h"

template <class F>
void skvq::fuzz::expect_only_engine_errors(F&& fn) {
  try {
    fn();
  } catch (const skvq::Error&) {
  }
}
