#pragma once
// A read-only memory map of a whole file (POSIX mmap), so that model files are never read whole
// into memory: pages are brought in when a tensor is dequantized or copied.
#include <cstdint>
#include <string>

namespace skvq {

/// Maps `path` read-only for the lifetime of the object. Throws FileError when the file is
/// missing, not a regular file or cannot be mapped. An empty file maps to size() == 0.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace skvq
