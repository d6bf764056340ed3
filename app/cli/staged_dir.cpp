// StagedDir: a hidden sibling folder renamed into place at the end.
#include "staged_dir.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "skvq/error.h"

namespace skvq::cli {
namespace fs = std::filesystem;

StagedDir::StagedDir(const fs::path& out) {
  std::error_code ec;
  out_ = fs::absolute(out, ec).lexically_normal();
  if (out_.filename().empty()) out_ = out_.parent_path();  // "dir/" -> "dir"
  if (fs::exists(out_, ec) && !fs::is_directory(out_, ec))
    throw FileError(out.string(), "exists and is not a directory");
  fs::create_directories(out_.parent_path(), ec);
  if (ec) throw FileError(out_.parent_path().string(), "cannot create directory: " + ec.message());
  staging_ = out_.parent_path() / ("." + out_.filename().string() + ".partial-" + std::to_string(getpid()));
  fs::remove_all(staging_, ec);  // left by an earlier process with the same pid
  if (!fs::create_directory(staging_, ec))
    throw FileError(staging_.string(), "cannot create the staging folder: " + (ec ? ec.message() : "exists"));
}

StagedDir::~StagedDir() {
  std::error_code ec;
  if (!committed_) fs::remove_all(staging_, ec);
}

std::string StagedDir::final_name(const std::string& p) const {
  const std::string from = staging_.string();
  return p.rfind(from, 0) == 0 ? out_.string() + p.substr(from.size()) : p;
}

std::vector<fs::path> StagedDir::commit() {
  std::error_code ec;
  std::vector<fs::path> names;
  for (const auto& e : fs::directory_iterator(staging_, ec)) names.push_back(e.path().filename());
  if (ec) throw FileError(staging_.string(), "cannot list the staging folder: " + ec.message());
  std::sort(names.begin(), names.end());
  if (!fs::exists(out_, ec)) {
    fs::rename(staging_, out_, ec);
    if (ec) throw FileError(out_.string(), "cannot move the written files into place: " + ec.message());
  } else {
    for (const auto& n : names)  // check first, so a folder in the way fails before anything moves
      if (fs::is_directory(out_ / n, ec)) throw FileError((out_ / n).string(), "is a directory, in the way of a file");
    for (const auto& n : names) {
      fs::rename(staging_ / n, out_ / n, ec);
      if (ec) throw FileError((out_ / n).string(), "cannot move the written file into place: " + ec.message());
    }
    fs::remove(staging_, ec);
  }
  committed_ = true;
  std::vector<fs::path> final_paths;
  for (const auto& n : names) final_paths.push_back(out_ / n);
  return final_paths;
}

}  // namespace skvq::cli
