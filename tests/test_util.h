#pragma once
// Helpers shared by the tests: where the data and the built programs are.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
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
/// Runs `cmd` under /bin/sh with stderr joined to stdout; exit status (128 + signal when killed,
/// -1 when it cannot start) and the output.
struct CommandResult {
  int code = -1;
  std::string out;
};
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}
/// A fresh temporary directory for one test (under $TMPDIR or /tmp).
inline std::string temp_dir(const std::string& name) {
  const char* t = std::getenv("TMPDIR");
  std::string templ = std::string(t && *t ? t : "/tmp") + "/skvq-" + name + "-XXXXXX";
  char* made = mkdtemp(templ.data());
  return made ? std::string(made) : std::string();
}

/// The model cache of scripts/fetch-models.sh: $SKVQ_MODELS_DIR, else ~/.cache/skvq/models.
inline std::string models_dir() {
  const char* env = std::getenv("SKVQ_MODELS_DIR");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/skvq/models";
}
/// SmolLM2-135M-Instruct Q4_1 GGUF in the model cache (may be missing).
inline std::string smollm2_model() { return models_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf"; }
/// Whether a missing real model must fail the test (SKVQ_REQUIRE_MODELS=1, set by scripts/test.sh).
inline bool models_required() {
  const char* env = std::getenv("SKVQ_REQUIRE_MODELS");
  return env && std::string(env) == "1";
}
#ifdef SKVQ_REFERENCE_DIR
/// Committed reference outputs (tests/reference).
inline std::string reference(const std::string& rel) { return std::string(SKVQ_REFERENCE_DIR) + "/" + rel; }
#endif

}  // namespace skvq::test

/// Skips the test when the SmolLM2 GGUF is not in the model cache, or fails it when
/// SKVQ_REQUIRE_MODELS=1 (CI fetches the model first).
#define SKVQ_REQUIRE_SMOLLM2()                                                                        \
  do {                                                                                                \
    if (!std::ifstream(skvq::test::smollm2_model()).good()) {                                         \
      if (skvq::test::models_required()) FAIL() << "missing " << skvq::test::smollm2_model();         \
      GTEST_SKIP() << "SmolLM2 not in the model cache (" << skvq::test::smollm2_model()               \
                   << "); run scripts/fetch-models.sh";                                               \
    }                                                                                                 \
  } while (0)
