#pragma once
// Reading GGUF files (internal to the engine), versions 2 and 3, little-endian:
//   magic "GGUF", uint32 version, uint64 tensor_count, uint64 metadata_kv_count,
//   metadata: { string key, uint32 value_type, value }*, where a string is uint64 length + bytes
//   and an array is uint32 element type + uint64 count + elements (arrays may nest);
//   tensor infos: { string name, uint32 n_dims, uint64 ne[n_dims], uint32 ggml_type, uint64 offset }*;
//   padding to general.alignment (default 32), then the tensor data; offsets are relative to it.
// The file is memory-mapped; every count, length, shape and offset is checked against the file
// size before it is used.
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/mapped_file.h"
#include "skvq/model_config.h"

namespace skvq::gguf {

/// One tensor of a GGUF file. `ne` is in ggml order (ne[0] varies fastest); the row-major
/// (LibTorch) shape is ne reversed.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type = 0;     ///< ggml type id (gguf_quants.h)
  uint64_t offset = 0;   ///< absolute offset in the file
  uint64_t nbytes = 0;   ///< bytes of data
  int64_t numel() const;
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }
};

/// A parsed, validated GGUF file kept memory-mapped.
class File {
 public:
  /// Throws FileError naming `path` for a missing, truncated or malformed file (wrong magic,
  /// unsupported version, absurd counts, a string or array running past the end, a tensor
  /// beyond the file, an unknown tensor type, duplicate names).
  explicit File(const std::string& path);

  const std::string& path() const { return map_->path(); }
  uint32_t version() const { return version_; }
  uint64_t size() const { return map_->size(); }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  /// Metadata as a JSON object key -> value (integers, floats, bools, strings, nested arrays).
  const nlohmann::json& metadata() const { return meta_; }
  /// GGUF value type name of a metadata key ("uint32", "array[string]", ...), "" if absent.
  std::string type_name(const std::string& key) const;
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  /// The tensor named `name`, or nullptr.
  const TensorInfo* find(const std::string& name) const;
  /// Pointer to the first byte of a tensor's data (inside the map).
  const uint8_t* data(const TensorInfo& t) const { return map_->data() + t.offset; }

  /// Metadata accessors; they throw FileError naming the key when it is missing or mistyped.
  bool has(const std::string& key) const { return meta_.contains(key); }
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key, bool dflt) const;

 private:
  std::shared_ptr<MappedFile> map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  nlohmann::json meta_ = nlohmann::json::object();
  std::map<std::string, std::string> types_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> by_name_;
};

/// The ModelConfig of a GGUF model file from its metadata alone (what load_gguf_model uses; no
/// tensor is read). Throws FileError as File, and for an unsupported architecture.
ModelConfig model_config(const std::string& path);

}  // namespace skvq::gguf
