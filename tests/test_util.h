#pragma once
// Helpers shared by the tests: where the data and the built programs are.
#include <cstdlib>
#include <string>
#include <stdlib.h>

namespace skvq::test {

/// The shared data directory the tests use (SKVQ_DATA_DIR, else the configured default).
inline std::string data_dir() {
  const char* env = std::getenv("SKVQ_DATA_DIR");
  return env && *env ? env : SKVQ_TEST_DATA_DIR;
}
inline std::string data(const std::string& rel) { return data_dir() + "/" + rel; }
inline std::string stories_model() { return data("models/stories260K/stories260K.bin"); }
inline std::string stories_tokenizer() { return data("models/stories260K/tok512.bin"); }
/// Path of a program built by this project (e.g. "app/skvq").
inline std::string built(const std::string& rel) { return std::string(SKVQ_BINARY_DIR) + "/" + rel; }
/// A fresh temporary directory for one test (under $TMPDIR or /tmp).
inline std::string temp_dir(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  std::string templ = std::string(t && *t ? t : "/tmp") + "/skvq-" + name + "-XXXXXX";
  char* made = mkdtemp(templ.data());
  return made ? std::string(made) : std::string();
}

}  // namespace skvq::test
