#pragma once
// Writing a whole output folder or nothing: files go to a hidden sibling folder first and are
// moved into place only once every one of them was written (skvq convert on a full disk).
#include <filesystem>
#include <string>
#include <vector>

namespace skvq::cli {

class StagedDir {
 public:
  /// Creates the staging folder "<parent>/.<name>.partial-<pid>" beside `out` (and out's parent
  /// folders). Throws FileError when `out` is a file or nothing can be created there.
  explicit StagedDir(const std::filesystem::path& out);
  /// Removes the staging folder and what is in it unless commit() ran.
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  /// Where to write.
  const std::filesystem::path& path() const { return staging_; }
  /// `p` with the staging folder replaced by the output folder (for messages about a file).
  std::string final_name(const std::string& p) const;
  /// Moves the staged files into `out`: renames the staging folder to `out` when `out` does not
  /// exist, else renames each file over the one of the same name in `out` (other files there are
  /// kept). Returns the final paths. Throws FileError.
  std::vector<std::filesystem::path> commit();

 private:
  std::filesystem::path out_, staging_;
  bool committed_ = false;
};

}  // namespace skvq::cli
