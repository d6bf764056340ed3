#pragma once
// Reading and writing the safetensors format (internal to the engine):
//   8 bytes little-endian uint64 N, N bytes of JSON header
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...],
//    "data_offsets": [begin, end]}, ...}, then the data; offsets are relative to byte 8 + N.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace skvq {
class MappedFile;
}

namespace skvq::safetensors {

/// One tensor's entry in a safetensors header.
struct TensorInfo {
  std::string dtype;            ///< safetensors dtype name: F64, F32, F16, BF16, I64, ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  ///< byte range relative to the start of the data section
};

/// A parsed and validated safetensors header.
struct Header {
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  ///< absolute file offset of the data section (8 + N)
  uint64_t file_size = 0;
};

/// Reads and validates the header of `path`: header length within the file, valid JSON, known
/// dtypes, byte ranges matching shape x element size and lying inside the file.
/// Throws FileError("<path>: <problem>") otherwise.
Header read_header(const std::string& path);

/// Reads one tensor described by `info` (from read_header(path)) as a contiguous float32 CPU
/// tensor; F64/F32/F16/BF16 are converted. Throws FileError for other dtypes or a short read.
at::Tensor read_tensor(const std::string& path, const Header& header, const std::string& name);

/// Tensor `name` as `dtype` from a memory map of the file the header was read from. When the
/// stored dtype is `dtype` and the data is aligned to its element size, the tensor is a zero-copy
/// view of the mapping (read-only memory: never written in place) that keeps `file` mapped;
/// otherwise a converted contiguous copy (F64/F32/F16/BF16 only). Throws FileError when the file
/// changed size since read_header, for other dtypes, or an unknown name.
at::Tensor map_tensor(const std::shared_ptr<const MappedFile>& file, const Header& header,
                      const std::string& name, at::ScalarType dtype);

/// Reads every tensor of the file as float32 (see read_tensor).
std::map<std::string, at::Tensor> read_all(const std::string& path);

/// Writes `tensors` (any floating dtype, any device; stored as contiguous F32) with optional
/// string metadata. The header is padded with spaces to a multiple of 8 bytes.
/// Throws FileError when the file cannot be written.
void write(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
           const std::map<std::string, std::string>& metadata = {});

}  // namespace skvq::safetensors
