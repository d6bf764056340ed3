#pragma once
// Checks made before a long command computes anything, so a mistyped output path fails at once.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "skvq/error.h"

namespace skvq::cli {

/// Throws FileError naming `path` when the folder it would be written in is missing or not
/// writable, or when `path` itself is a directory.
inline void check_output_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw FileError(path, "is a directory, expected a file to write");
  const fs::path dir = fs::absolute(path, ec).parent_path();
  if (!fs::is_directory(dir, ec) || access(dir.c_str(), W_OK) != 0)
    throw FileError(path, "cannot be written (folder " + dir.string() + " is missing or not writable)");
}

}  // namespace skvq::cli
