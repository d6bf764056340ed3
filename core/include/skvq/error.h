#pragma once
// Errors thrown by the engine. Every message names the file (or option) and the problem,
// so that the command line and the desktop application can show it as it is.
#include <stdexcept>
#include <string>

namespace skvq {

/// Base class of every error the engine throws on bad input or failed I/O.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A model, tokenizer, calibration, text or data file is missing, truncated or malformed.
/// what() is "<path>: <problem>".
class FileError : public Error {
 public:
  FileError(const std::string& path, const std::string& problem)
      : Error(path + ": " + problem), path_(path) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A configuration string (skvq-method.md section 5) or an option value is malformed or
/// does not fit the model.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// The run store (SQLite) could not be opened, migrated or written.
class StoreError : public Error {
 public:
  using Error::Error;
};

/// Thrown by long operations when their cancel flag is raised (Ctrl-C, a GUI cancel button).
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace skvq
